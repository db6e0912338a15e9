import BerthCore
import Linux
import OCI

/// What ctr asks a supervisor, one request per connection and per packet:
///
///     {"request":"status"}                      → status
///     {"request":"stop","timeout":10}           → ended, once the container is gone
///     {"request":"kill","signal":15}            → done
///     {"request":"pause"} / {"request":"resume"} → done
///     {"request":"wait"}                        → ended, once the service ends for good
///     {"request":"update","resources":{...}}    → done (linux.resources of the OCI config)
///     {"request":"resize","rows":24,"cols":80}  → done (the window size of a -t service's terminal)
///     {"request":"rollout","rollout":{...}}     → status, once the new version serves;
///                                                 failed with the reason when it was rolled back
///
/// Any other document (unknown request or field, wrong type, out-of-range value) is refused
/// with a `failed` response naming the field.
public enum ControlRequest: Equatable, Sendable {
    case status
    /// SIGTERM to the init, then after `timeoutSeconds` SIGKILL to the whole cgroup; no restart.
    case stop(timeoutSeconds: Int)
    /// A signal to the init; the restart policy applies to the exit it causes.
    case kill(signal: Int32)
    case pause
    case resume
    case wait
    /// New limits, as config.json's linux.resources: applied to the running container and kept
    /// for the restarts to come. Fields not set keep their value.
    case update(LinuxResources)
    /// A hand-off to a new version (its config waits in config.next.json).
    case rollout(RolloutRequest)
    /// The window size of the container's terminal (ctr run -t), kept for the runs to come.
    case resize(rows: UInt16, columns: UInt16)

    public static let maximumStopTimeout = 86_400

    public var json: JSONValue {
        switch self {
        case .status: ["request": "status"]
        case .stop(let timeout): ["request": "stop", "timeout": .number(JSONNumber(timeout))]
        case .kill(let signal): ["request": "kill", "signal": .number(JSONNumber(Int(signal)))]
        case .pause: ["request": "pause"]
        case .resume: ["request": "resume"]
        case .wait: ["request": "wait"]
        case .update(let resources): .object([("request", "update"), ("resources", (try? encodeJSONValue(resources)) ?? .null)])
        case .rollout(let rollout): .object([("request", "rollout"), ("rollout", (try? encodeJSONValue(rollout)) ?? .null)])
        case .resize(let rows, let columns):
            .object([("request", "resize"), ("rows", .number(JSONNumber(Int(rows)))), ("cols", .number(JSONNumber(Int(columns))))])
        }
    }

    public var encoded: [UInt8] { json.serializedBytes() }

    /// Decodes and validates one request packet.
    public init(decoding bytes: [UInt8]) throws(BerthError) {
        guard bytes.count <= ControlProtocol.maximumMessageSize else {
            throw BerthError(.invalidArgument, "request: \(bytes.count) bytes, more than the \(ControlProtocol.maximumMessageSize) allowed")
        }
        let value: JSONValue
        do { value = try JSONValue.parse(bytes) } catch { throw BerthError(.invalidArgument, "request: \(error)") }
        guard case .object(let members) = value else { throw BerthError(.invalidArgument, "request: expected an object, found \(value.kindName)") }
        guard let kind = value["request"]?.stringValue else { throw BerthError(.invalidArgument, "request.request: missing or not a string") }
        let allowed: Set<String>
        switch kind {
        case "status", "pause", "resume", "wait": allowed = ["request"]
        case "stop": allowed = ["request", "timeout"]
        case "kill": allowed = ["request", "signal"]
        case "update": allowed = ["request", "resources"]
        case "rollout": allowed = ["request", "rollout"]
        case "resize": allowed = ["request", "rows", "cols"]
        default: throw BerthError(.invalidArgument, "request.request: unknown request \"\(kind)\"")
        }
        for member in members where !allowed.contains(member.key) {
            throw BerthError(.invalidArgument, "request.\(member.key): not a field of \"\(kind)\"")
        }
        switch kind {
        case "status": self = .status
        case "pause": self = .pause
        case "resume": self = .resume
        case "wait": self = .wait
        case "update":
            guard let field = value["resources"], case .object = field else {
                throw BerthError(.invalidArgument, "request.resources: missing or not an object")
            }
            do { self = .update(try decodeJSON(LinuxResources.self, from: field)) } catch {
                throw BerthError(.invalidArgument, "request.resources: \(error)")
            }
        case "rollout":
            guard let field = value["rollout"], case .object = field else {
                throw BerthError(.invalidArgument, "request.rollout: missing or not an object")
            }
            let rollout: RolloutRequest
            do { rollout = try decodeJSON(RolloutRequest.self, from: field) } catch {
                throw BerthError(.invalidArgument, "request.rollout: \(error)")
            }
            try rollout.validate()
            self = .rollout(rollout)
        case "resize":
            // TIOCSWINSZ takes 16-bit sizes; 0 would mean "unknown", which no terminal reports.
            let rows = try ControlRequest.integer(value, "rows", in: 1...Int64(UInt16.max))
            let columns = try ControlRequest.integer(value, "cols", in: 1...Int64(UInt16.max))
            self = .resize(rows: UInt16(rows), columns: UInt16(columns))
        case "stop":
            let timeout = try ControlRequest.integer(value, "timeout", in: 0...Int64(ControlRequest.maximumStopTimeout))
            self = .stop(timeoutSeconds: Int(timeout))
        default:
            self = .kill(signal: Int32(try ControlRequest.integer(value, "signal", in: 1...64)))
        }
    }

    private static func integer(_ value: JSONValue, _ field: String, in range: ClosedRange<Int64>) throws(BerthError) -> Int64 {
        guard let number = value[field]?.numberValue?.int64Value else {
            throw BerthError(.invalidArgument, "request.\(field): missing or not an integer")
        }
        guard range.contains(number) else {
            throw BerthError(.invalidArgument, "request.\(field): \(number) is outside \(range.lowerBound)...\(range.upperBound)")
        }
        return number
    }
}

/// Constants both sides agree on.
public enum ControlProtocol {
    /// The largest packet either side accepts. A status with its exit history is a few KiB.
    public static let maximumMessageSize = 64 << 10
}
