/// What a command's arguments after its flags are, for completion.
public enum Operands: Equatable, Sendable {
    case none
    /// NAME...: names the program lists (ctr's services, berth's containers).
    case names
    /// A directory (ctr run's ROOTFS or BUNDLE), then the container's command.
    case directoryThenCommand
    /// NAME, then the command to run in it.
    case nameThenCommand
    /// One of these words.
    case words([String])
}

/// What a completion script completes: a program's commands with their flag tables, what some
/// flags' values are, and how to list the names its commands take.
public struct CompletionModel: Sendable {
    public struct Command: Sendable {
        public var name: String
        public var summary: String
        public var flags: [Flag]
        public var operands: Operands

        public init(name: String, summary: String, flags: [Flag], operands: Operands) {
            self.name = name
            self.summary = summary
            self.flags = flags
            self.operands = operands
        }
    }

    /// What a flag's value is, when the shell can offer something.
    public enum Value: Equatable, Sendable {
        case files
        case directories
        case words([String])
    }

    /// The executable's name; the scripts' functions are named after it, so it must be a plain word.
    public var program: String
    public var commands: [Command]
    public var globalFlags: [Flag]
    /// Values by flag, as `command.flag` (for that command only) or `flag` (for every command
    /// that has it). A flag with `choices` needs none.
    public var values: [String: Value]
    /// What prints the names, after `PROGRAM [--root DIR]`: the first word of each line is one.
    public var namesCommand: [String]
    /// Lines of that output before the first name (a table's header).
    public var namesHeaderLines: Int
    /// The kind of name, as the shells describe it (`service`, `container`).
    public var nameKind: String

    public init(program: String, commands: [Command], globalFlags: [Flag], values: [String: Value], namesCommand: [String],
                namesHeaderLines: Int, nameKind: String) {
        self.program = program
        self.commands = commands
        self.globalFlags = globalFlags
        self.values = values
        self.namesCommand = namesCommand
        self.namesHeaderLines = namesHeaderLines
        self.nameKind = nameKind
    }

    public func value(of flag: Flag, in command: String?) -> Value? {
        if let command, let value = values[command + "." + flag.name] { return value }
        return values[flag.name] ?? flag.choices.map { .words($0) }
    }

    /// `PROGRAM COMMAND --help` and `PROGRAM help COMMAND` work for every command.
    public static func helpCommand(for commands: [Command]) -> Command {
        Command(name: "help", summary: "show a command's usage", flags: [], operands: .words(commands.map(\.name)))
    }
}
