import Glibc
import Linux
import OCI
import SupervisorAPI

/// What a new supervisor tells the ctr that forked it, over a SOCK_SEQPACKET pair: first
/// `started` or `failed`, then, for a ctr that stays attached, `output` whenever the log has
/// grown, and `ended` with the final status.
public enum SupervisorReport: Equatable, Sendable {
    case started(pid: Int32)
    case failed(String)
    /// The log has new lines: the attached ctr reads them now rather than at its next poll.
    case output
    case ended(ServiceStatus)

    var encoded: [UInt8] {
        let value: JSONValue
        switch self {
        case .started(let pid): value = ["report": "started", "pid": .number(JSONNumber(Int(pid)))]
        case .failed(let message): value = .object([("report", "failed"), ("message", .string(message))])
        case .output: value = ["report": "output"]
        case .ended(let status): value = .object([("report", "ended"), ("status", (try? encodeJSONValue(status)) ?? .null)])
        }
        return value.serializedBytes()
    }

    init?(decoding bytes: [UInt8]) {
        guard let value = try? JSONValue.parse(bytes) else { return nil }
        switch value["report"]?.stringValue {
        case "started":
            guard let pid = value["pid"]?.numberValue?.int64Value else { return nil }
            self = .started(pid: Int32(truncatingIfNeeded: pid))
        case "failed": self = .failed(value["message"]?.stringValue ?? "unknown error")
        case "output": self = .output
        case "ended":
            guard let field = value["status"], let status = try? decodeJSON(ServiceStatus.self, from: field) else { return nil }
            self = .ended(status)
        default: return nil
        }
    }
}

/// ctr's end of the report channel.
public struct SupervisorReportChannel {
    let descriptor: FileDescriptor

    /// The next report; nil when the supervisor closed the channel (or died) without one.
    public func next() -> SupervisorReport? {
        guard case .message(let bytes)? = try? ControlSocket.receive(on: descriptor) else { return nil }
        return SupervisorReport(decoding: bytes)
    }

    public var rawValue: Int32 { descriptor.rawValue }

    /// Whether another report is queued (or the channel has closed), without waiting.
    public var hasReport: Bool {
        var entry = pollfd(fd: descriptor.rawValue, events: Int16(POLLIN), revents: 0)
        return Glibc.poll(&entry, 1, 0) == 1
    }

    public func close() { descriptor.close() }
}
