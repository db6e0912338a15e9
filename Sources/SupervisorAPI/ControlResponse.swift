import BerthCore
import Linux
import OCI

/// A supervisor's answer, one packet:
///
///     {"response":"status","status":{...status.json...}}
///     {"response":"done"}
///     {"response":"ended","status":{...}}
///     {"response":"failed","message":"container is not running"}
public enum ControlResponse: Equatable, Sendable {
    case status(ServiceStatus)
    /// The request was carried out.
    case done
    /// The service has ended for good (stop, wait); the final status.
    case ended(ServiceStatus)
    /// The request was refused or failed; the message says why.
    case failed(String)

    public var encoded: [UInt8] {
        let value: JSONValue
        switch self {
        case .status(let status): value = .object([("response", "status"), ("status", ControlResponse.json(status))])
        case .done: value = ["response": "done"]
        case .ended(let status): value = .object([("response", "ended"), ("status", ControlResponse.json(status))])
        case .failed(let message): value = .object([("response", "failed"), ("message", .string(message))])
        }
        return value.serializedBytes()
    }

    private static func json(_ status: ServiceStatus) -> JSONValue {
        // ServiceStatus holds only strings, numbers and booleans: encoding cannot fail.
        (try? encodeJSONValue(status)) ?? .null
    }

    public init(decoding bytes: [UInt8]) throws(BerthError) {
        let value: JSONValue
        do { value = try JSONValue.parse(bytes) } catch { throw BerthError(.system, "supervisor response: \(error)") }
        func status() throws(BerthError) -> ServiceStatus {
            guard let field = value["status"] else { throw BerthError(.system, "supervisor response: no status") }
            do { return try decodeJSON(ServiceStatus.self, from: field) } catch { throw BerthError(.system, "supervisor response: \(error)") }
        }
        switch value["response"]?.stringValue {
        case "status": self = .status(try status())
        case "done": self = .done
        case "ended": self = .ended(try status())
        case "failed": self = .failed(value["message"]?.stringValue ?? "unknown error")
        default: throw BerthError(.system, "supervisor response: unknown response")
        }
    }
}
