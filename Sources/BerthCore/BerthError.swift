import Glibc

/// The one error type of Berth. A user sees `description`, one line naming the input
/// (config.json path, file path or flag); `--debug` adds `chain`.
///
///     linux.seccomp.syscalls[3].args[0].index: argument index 6 is out of range 0-5
///     mount /proc: operation not permitted
public struct BerthError: Error, CustomStringConvertible, Equatable, Sendable {
    /// What went wrong, for callers that react differently to each. Modules add codes of
    /// their own in an extension (OCI's `.jsonSyntax`), so this module needs to know none of them.
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
    /// The JSON path of the offending value (`linux.namespaces[2].type`), written in front of
    /// the message; empty when the message names its input itself.
    public var path: String
    public var message: String
    /// The errno of the failed call, 0 when there is none.
    public var errno: Int32
    /// True when `message` already says what `errno` means in words of its own (seccomp's
    /// EACCES names the missing no_new_privs), so `description` does not add strerror's text.
    public var explainsErrno: Bool
    /// Byte offset into the input, for JSON syntax errors.
    public var offset: Int?
    /// What this error was raised from, for `--debug`.
    public var cause: (any Error)?

    public init(_ code: Code, path: String = "", _ message: String, errno: Int32 = 0, explainsErrno: Bool = false,
                offset: Int? = nil, cause: (any Error)? = nil) {
        self.code = code
        self.path = path
        self.message = message
        self.errno = errno
        self.explainsErrno = explainsErrno
        self.offset = offset
        self.cause = cause
    }

    /// `path: message: strerror`, each part only when there is one.
    public var description: String {
        let text = path.isEmpty ? message : "\(path): \(message)"
        return errno == 0 || explainsErrno ? text : "\(text): \(errnoDescription(errno))"
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
        copy.message = path.isEmpty ? "\(context): \(message)" : "\(context): \(path): \(message)"
        copy.path = ""
        return copy
    }

    /// Two errors are equal when they say the same thing; the cause only adds detail for `--debug`.
    public static func == (lhs: BerthError, rhs: BerthError) -> Bool {
        lhs.code == rhs.code && lhs.path == rhs.path && lhs.message == rhs.message && lhs.errno == rhs.errno
            && lhs.explainsErrno == rhs.explainsErrno && lhs.offset == rhs.offset
    }
}

/// strerror(3) text for an errno, lower case as our messages are.
public func errnoDescription(_ code: Int32) -> String {
    guard let text = strerror(code) else { return "errno \(code)" }
    var message = String(cString: text)
    if let first = message.first, first.isUppercase, message.dropFirst().first?.isLowercase ?? true {
        message = first.lowercased() + message.dropFirst()
    }
    return message
}
