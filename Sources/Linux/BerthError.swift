/// The one error type of Berth. A user sees `description`, one line naming the input
/// (config.json path, file path or flag); `--debug` adds `chain`.
public struct BerthError: Error, CustomStringConvertible, Sendable {
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// config.json or a process.json is malformed or asks for something impossible.
        public static let invalidConfig = Code(rawValue: "invalid config")
        /// A command-line flag or argument is wrong.
        public static let invalidArgument = Code(rawValue: "invalid argument")
        /// The container does not exist.
        public static let notFound = Code(rawValue: "not found")
        /// The container already exists.
        public static let exists = Code(rawValue: "exists")
        /// The container is in a state that does not allow the operation.
        public static let invalidState = Code(rawValue: "invalid state")
        /// A system call failed.
        public static let system = Code(rawValue: "system")
        /// The host cannot do what was asked (a missing controller, a kernel feature).
        public static let unsupported = Code(rawValue: "unsupported")
        /// A hook failed or timed out.
        public static let hook = Code(rawValue: "hook")
    }

    public var code: Code
    public var message: String
    /// The errno of the failed call, 0 when there is none.
    public var errno: Int32
    /// What this error was raised from, for `--debug`.
    public var cause: (any Error)?

    public init(_ code: Code, _ message: String, errno: Int32 = 0, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.errno = errno
        self.cause = cause
    }

    public var description: String {
        errno == 0 ? message : "\(message): \(errnoDescription(errno))"
    }

    /// The whole chain of causes, outermost first.
    public var chain: String {
        var text = "[\(code)] \(description)"
        if let cause { text += "\n  caused by: \(cause)" }
        return text
    }

    /// Adds context in front of the message: `mounting /proc: <message>`.
    public func prefixed(_ context: String) -> BerthError {
        var copy = self
        copy.message = "\(context): \(message)"
        return copy
    }
}
