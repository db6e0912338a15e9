import BerthCore
import Linux

/// What the supervisor does when the container's init exits on its own (a `ctr stop` never
/// restarts). Written as docker writes it: `no`, `on-failure`, `on-failure:N`, `always`.
public enum RestartPolicy: Codable, Equatable, Sendable, CustomStringConvertible {
    case no
    /// Restart after a non-zero exit or a signal, at most `maximumRestarts` times when given.
    case onFailure(maximumRestarts: Int?)
    case always

    public init(parsing text: String) throws(BerthError) {
        switch text {
        case "no": self = .no
        case "always": self = .always
        case "on-failure": self = .onFailure(maximumRestarts: nil)
        default:
            guard text.hasPrefix("on-failure:") else {
                throw BerthError(.invalidArgument, "flag --restart: \"\(text)\" is not no, on-failure[:N] or always (e.g. --restart on-failure:3)")
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
        case .onFailure(nil): "on-failure"
        case .onFailure(let count?): "on-failure:\(count)"
        }
    }

    /// Whether an exit with `termination`, after `restarts` restarts so far, calls for another.
    public func restarts(after termination: ProcessControl.Termination?, restartsSoFar restarts: Int) -> Bool {
        switch self {
        case .no: return false
        case .always: return true
        case .onFailure(let maximum):
            if termination == .exited(0) { return false }
            if let maximum, restarts >= maximum { return false }
            return true
        }
    }

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
