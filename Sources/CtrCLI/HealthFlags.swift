import BerthCore
import CommandLineFlags
import Linux
import SupervisorAPI

/// `ctr run`'s `--health-*` flags, as docker spells them, made into the service's HealthCheck.
enum HealthFlags {
    static let flags: [Flag] = [
        .value("health-cmd"), .value("health-interval"), .value("health-timeout"), .value("health-retries"),
        .value("health-start-period"),
    ]

    /// nil without --health-cmd; the timing flags alone are refused, since they would do nothing.
    static func check(_ parsed: Arguments) throws(BerthError) -> HealthCheck? {
        guard let command = parsed.value("health-cmd") else {
            if let flag = flags.dropFirst().first(where: { parsed.value($0.name) != nil }) {
                throw BerthError(.invalidArgument, "flag --\(flag.name): needs --health-cmd (e.g. --health-cmd 'test -e /tmp/ready' --\(flag.name) \(example(flag.name)))")
            }
            return nil
        }
        guard !command.allSatisfy({ $0 == " " || $0 == "\t" }), !command.contains("\0") else {
            throw BerthError(.invalidArgument, "flag --health-cmd: the command is empty (e.g. --health-cmd 'test -e /tmp/ready')")
        }
        var check = HealthCheck(command: command)
        if let text = parsed.value("health-interval") {
            check.intervalMilliseconds = try FlagValues.duration(text, flag: "--health-interval", example: example("health-interval"))
        }
        if let text = parsed.value("health-timeout") {
            check.timeoutMilliseconds = try FlagValues.duration(text, flag: "--health-timeout", example: example("health-timeout"))
        }
        if let text = parsed.value("health-start-period") {
            check.startPeriodMilliseconds = try FlagValues.duration(text, flag: "--health-start-period", minimum: 0,
                                                                    example: example("health-start-period"))
        }
        if let text = parsed.value("health-retries") {
            let retries = try FlagValues.count(text, flag: "--health-retries", example: example("health-retries"))
            guard retries <= 1_000_000 else {
                throw BerthError(.invalidArgument, "flag --health-retries: \(retries) is above 1000000 (e.g. --health-retries 3)")
            }
            check.retries = Int(retries)
        }
        return check
    }

    private static func example(_ flag: String) -> String {
        switch flag {
        case "health-interval": "10s"
        case "health-timeout": "5s"
        case "health-start-period": "30s"
        default: "3"
        }
    }
}
