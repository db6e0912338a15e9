/// The release both programs report (`berth --version`, `ctr version`) and the manual pages name.
public enum Release {
    public static let version = "0.1.0"
}
