import BerthCore
import Linux

/// A published port, `-p [ADDRESS:]HOST:CONTAINER[/tcp]`: the supervisor listens on
/// ADDRESS:HOST in the host's network namespace and forwards each connection to CONTAINER on
/// the container's loopback, inside the container's network namespace.
///
/// Only TCP over IPv4: the address is dotted-quad (`0.0.0.0`, the default, is every address).
public struct PortMapping: Codable, Equatable, Hashable, Sendable, CustomStringConvertible {
    public var address: String
    public var hostPort: UInt16
    public var containerPort: UInt16

    public init(address: String = "0.0.0.0", hostPort: UInt16, containerPort: UInt16) {
        self.address = address
        self.hostPort = hostPort
        self.containerPort = containerPort
    }

    public init(parsing text: String, flag: String = "-p") throws(BerthError) {
        let example = "(e.g. \(flag) 8080:80 or \(flag) 127.0.0.1:8080:80)"
        var body = Substring(text)
        if body.hasSuffix("/tcp") { body = body.dropLast(4) }
        if body.contains("/") {
            throw BerthError(.invalidArgument, "flag \(flag): \"\(text)\": only tcp ports can be published \(example)")
        }
        let parts = body.split(separator: ":", omittingEmptySubsequences: false)
        switch parts.count {
        case 2:
            address = "0.0.0.0"
        case 3:
            address = try ListenAddress.ipv4(String(parts[0]), text: text, flag: flag, example: example)
        default:
            throw BerthError(.invalidArgument, "flag \(flag): \"\(text)\" is not [ADDRESS:]HOST:CONTAINER \(example)")
        }
        hostPort = try ListenAddress.port(parts[parts.count - 2], text: text, flag: flag, example: example)
        containerPort = try ListenAddress.port(parts[parts.count - 1], text: text, flag: flag, example: example)
    }

    /// `0.0.0.0:8080->80/tcp`, as docker shows it.
    public var description: String { "\(address):\(hostPort)->\(containerPort)/tcp" }
}

/// `--listen [ADDRESS:]PORT`: a socket the supervisor binds and hands to the container itself
/// (socket activation: LISTEN_FDS, descriptors from 3 in the order given).
public struct ListenAddress: Codable, Equatable, Hashable, Sendable, CustomStringConvertible {
    public var address: String
    public var port: UInt16

    public init(address: String = "0.0.0.0", port: UInt16) {
        self.address = address
        self.port = port
    }

    public init(parsing text: String, flag: String = "--listen") throws(BerthError) {
        let example = "(e.g. \(flag) 8080 or \(flag) 127.0.0.1:8080)"
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        switch parts.count {
        case 1: address = "0.0.0.0"
        case 2: address = try ListenAddress.ipv4(String(parts[0]), text: text, flag: flag, example: example)
        default: throw BerthError(.invalidArgument, "flag \(flag): \"\(text)\" is not [ADDRESS:]PORT \(example)")
        }
        port = try ListenAddress.port(parts[parts.count - 1], text: text, flag: flag, example: example)
    }

    public var description: String { "\(address):\(port)" }

    static func port(_ part: Substring, text: String, flag: String, example: String) throws(BerthError) -> UInt16 {
        guard !part.isEmpty, part.count <= 5, part.allSatisfy({ $0.isASCII && $0.isNumber }), let value = UInt16(part), value > 0 else {
            throw BerthError(.invalidArgument, "flag \(flag): \"\(text)\": \"\(part)\" is not a port from 1 to 65535 \(example)")
        }
        return value
    }

    static func ipv4(_ part: String, text: String, flag: String, example: String) throws(BerthError) -> String {
        let octets = part.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4, octets.allSatisfy({ !$0.isEmpty && $0.count <= 3 && $0.allSatisfy { $0.isASCII && $0.isNumber } && (Int($0) ?? 256) <= 255 }) else {
            throw BerthError(.invalidArgument, "flag \(flag): \"\(text)\": \"\(part)\" is not an IPv4 address \(example)")
        }
        return part
    }
}
