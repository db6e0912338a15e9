import BerthCore
import Linux

/// What the supervisor does when the container's init exits on its own (a `ctr stop` never
/// restarts). Written as docker writes it: `no`, `on-failure`, `on-failure:N`, `always`,
/// `unless-stopped`.
public enum RestartPolicy: Codable, Equatable, Sendable, CustomStringConvertible {
    case no
    /// Restart after a non-zero exit or a signal, at most `maximumRestarts` times when given.
    case onFailure(maximumRestarts: Int?)
    case always
    /// As `always` while the service runs. docker's difference (a stopped container stays down
    /// when the daemon restarts) is ctr's rule for both: `ctr system boot` brings back neither
    /// when the user stopped it.
    case unlessStopped

    public init(parsing text: String) throws(BerthError) {
        switch text {
        case "no": self = .no
        case "always": self = .always
        case "unless-stopped": self = .unlessStopped
        case "on-failure": self = .onFailure(maximumRestarts: nil)
        default:
            guard text.hasPrefix("on-failure:") else {
                throw BerthError(.invalidArgument, "flag --restart: \"\(text)\" is not no, on-failure[:N], always or unless-stopped (e.g. --restart on-failure:3)")
            }
            guard let count = Int(text.dropFirst("on-failure:".count)), count >= 0, count <= 1_000_000 else {
                throw BerthError(.invalidArgument, "flag --restart: \"\(text)\": N must be a whole number of restarts (e.g. --restart on-failure:3)")
            }
            self = .onFailure(maximumRestarts: count)
        }
    }

    public var description: String {
        switch self {
        case .no: "no"
        case .always: "always"
        case .unlessStopped: "unless-stopped"
        case .onFailure(nil): "on-failure"
        case .onFailure(let count?): "on-failure:\(count)"
        }
    }

    /// Whether an exit with `termination`, after `restarts` restarts so far, calls for another.
    public func restarts(after termination: ProcessControl.Termination?, restartsSoFar restarts: Int) -> Bool {
        switch self {
        case .no: return false
        case .always, .unlessStopped: return true
        case .onFailure(let maximum):
            if termination == .exited(0) { return false }
            if let maximum, restarts >= maximum { return false }
            return true
        }
    }

    /// Whether `ctr system boot` brings the service back (unless the user stopped it).
    public var startsAtBoot: Bool { self == .always || self == .unlessStopped }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { self = try RestartPolicy(parsing: text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "unknown restart policy \"\(text)\""))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
