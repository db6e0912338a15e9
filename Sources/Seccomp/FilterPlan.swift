import BerthCore
import CLibseccomp
import Glibc
import OCI

/// A validated `linux.seccomp`: everything libseccomp needs, with the libseccomp-free checks
/// done, so that errors come before the (slow) generation and a cache can be keyed on it.
struct FilterPlan {
    struct Rule {
        /// Position in `linux.seccomp.syscalls`, for paths.
        var index: Int
        var names: [String]
        var action: UInt32
        var conditions: [scmp_arg_cmp]
        /// An argument index repeats: add each comparison as a rule of its own (runc).
        var splitConditions: Bool
    }

    var defaultAction: UInt32
    /// libseccomp tokens of `architectures`, with their positions for paths.
    var architectures: [(index: Int, token: UInt32, arch: SeccompArch)]
    var rules: [Rule]
    var flags: SeccompFilterFlags
    var warnings: [String]

    static let base = "linux.seccomp"

    init(_ seccomp: LinuxSeccomp, kernel: SeccompKernelSupport) throws(BerthError) {
        let base = Self.base
        warnings = []
        if seccomp.defaultAction == .notify {
            throw BerthError(.invalidConfig, path: "\(base).defaultAction",
                               "SCMP_ACT_NOTIFY cannot be the default action (every syscall, including the runtime's own, would wait for the listener)")
        }
        defaultAction = try SeccompProgram.filterReturn(seccomp.defaultAction, errnoRet: seccomp.defaultErrnoRet,
                                                        actionPath: "\(base).defaultAction",
                                                        errnoPath: "\(base).defaultErrnoRet", kernel: kernel)

        flags = []
        for (i, flag) in (seccomp.flags ?? []).enumerated() {
            guard kernel.flags.contains(flag) else {
                throw BerthError(.unsupported, path: "\(base).flags[\(i)]",
                                   "\(flag.rawValue) is not supported by this kernel")
            }
            flags.insert(flag.filterFlag)
        }

        architectures = []
        for (i, arch) in (seccomp.architectures ?? []).enumerated() {
            guard let token = arch.libseccompToken else {
                throw BerthError(.unsupported, path: "\(base).architectures[\(i)]",
                                   "\(arch.rawValue) is not supported by libseccomp \(libseccompVersion)")
            }
            architectures.append((i, token, arch))
        }

        rules = []
        var notifyPath: String?
        for (i, syscall) in (seccomp.syscalls ?? []).enumerated() {
            let path = "\(base).syscalls[\(i)]"
            if syscall.names.isEmpty {
                throw BerthError(.invalidConfig, path: "\(path).names", "must name at least one syscall")
            }
            let action = try SeccompProgram.filterReturn(syscall.action, errnoRet: syscall.errnoRet,
                                                         actionPath: "\(path).action",
                                                         errnoPath: "\(path).errnoRet", kernel: kernel)
            if syscall.action == .notify {
                // The init hands the listener over with sendmsg and berth reports through write:
                // a notified write would wait for an agent that waits for the init. runc's words.
                if let j = syscall.names.firstIndex(of: "write") {
                    throw BerthError(.invalidConfig, path: "\(path).names[\(j)]", "SCMP_ACT_NOTIFY cannot be used for the write syscall")
                }
                if notifyPath == nil { notifyPath = "\(path).action" }
            }
            var conditions: [scmp_arg_cmp] = []
            var seen: Set<UInt> = []
            var repeated = false
            for (j, arg) in (syscall.args ?? []).enumerated() {
                guard arg.index <= 5 else {
                    throw BerthError(.invalidConfig, path: "\(path).args[\(j)].index",
                                       "argument index \(arg.index) is out of range 0-5")
                }
                if !seen.insert(arg.index).inserted { repeated = true }
                conditions.append(scmp_arg_cmp(arg: UInt32(arg.index), op: arg.op.scmp,
                                               datum_a: arg.value, datum_b: arg.valueTwo ?? 0))
            }
            // libseccomp refuses a rule with the default action (EACCES); it would change nothing.
            if action == defaultAction { continue }
            rules.append(Rule(index: i, names: syscall.names, action: action, conditions: conditions,
                              splitConditions: repeated))
        }

        if let notifyPath {
            if seccomp.listenerPath?.isEmpty ?? true {
                throw BerthError(.invalidConfig, path: "\(base).listenerPath",
                                   "required when a rule uses SCMP_ACT_NOTIFY (\(notifyPath))")
            }
            flags.insert(.newListener)
            if flags.contains(.tsync) {
                guard kernel.tsyncWithListener else {
                    throw BerthError(.unsupported, path: "\(base).flags",
                                       "SECCOMP_FILTER_FLAG_TSYNC together with SCMP_ACT_NOTIFY (\(notifyPath)) is not supported by this kernel (needs Linux 5.7)")
                }
                flags.insert(.tsyncESRCH)
            }
        } else if flags.contains(.waitKillableRecv) {
            // The kernel rejects it without a listener, and it would have nothing to act on.
            flags.remove(.waitKillableRecv)
            let i = seccomp.flags?.firstIndex(of: .waitKillableRecv) ?? 0
            warnings.append("\(base).flags[\(i)]: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV ignored: no rule uses SCMP_ACT_NOTIFY")
        }
    }

    /// Builds the filter with libseccomp and exports it. Warnings are the skipped names.
    func generate() throws(BerthError) -> (instructions: [BPFInstruction], warnings: [String]) {
        let base = Self.base
        guard let ctx = seccomp_init(defaultAction) else {
            throw BerthError(.system, path: "\(base).defaultAction", "libseccomp cannot create a filter (seccomp_init failed)")
        }
        defer { seccomp_release(ctx) }

        for (i, token, arch) in architectures {
            let rc = seccomp_arch_add(ctx, token)
            if rc < 0 && rc != -EEXIST {  // EEXIST: the native architecture, always present
                throw BerthError(.system, path: "\(base).architectures[\(i)]",
                                   "libseccomp cannot add \(arch.rawValue): \(errorText(-rc))", errno: -rc, explainsErrno: true)
            }
        }

        var warnings: [String] = []
        for rule in rules {
            let path = "\(base).syscalls[\(rule.index)]"
            for (j, name) in rule.names.enumerated() {
                let number = seccomp_syscall_resolve_name(name)
                if number == __NR_SCMP_ERROR {
                    warnings.append("\(path).names[\(j)]: unknown syscall \(quoted(name)) skipped (libseccomp \(libseccompVersion))")
                    continue
                }
                var rc: Int32 = 0
                if rule.splitConditions {
                    for var condition in rule.conditions where rc == 0 {
                        rc = seccomp_rule_add_array(ctx, rule.action, number, 1, &condition)
                    }
                } else {
                    rc = rule.conditions.withUnsafeBufferPointer {
                        seccomp_rule_add_array(ctx, rule.action, number, UInt32($0.count), $0.baseAddress)
                    }
                }
                if rc < 0 {
                    throw BerthError(.invalidConfig, path: "\(path).names[\(j)]",
                                       "libseccomp cannot add the rule for \(quoted(name)): \(errorText(-rc))", errno: -rc, explainsErrno: true)
                }
            }
        }
        return (try SeccompProgram.export(ctx), warnings)
    }

    /// Everything `generate()` depends on, serialized: the libseccomp version (it decides
    /// which names resolve and how the code looks), the native architecture, the default
    /// action, the architecture tokens and each rule. Equal keys give equal programs.
    var cacheKey: [UInt8] {
        var key: [UInt8] = []
        key.reserveCapacity(4096)
        func append(_ value: UInt64) { withUnsafeBytes(of: value.littleEndian) { key += $0 } }
        func append(_ text: String) {
            append(UInt64(text.utf8.count))
            key += text.utf8
        }
        append("berth-seccomp-plan-1 libseccomp \(libseccompVersion)")
        append(UInt64(seccomp_arch_native()))
        append(UInt64(defaultAction))
        append(UInt64(architectures.count))
        for arch in architectures { append(UInt64(arch.token)) }
        append(UInt64(rules.count))
        for rule in rules {
            append(UInt64(rule.index))
            append(UInt64(rule.action))
            append(rule.splitConditions ? 1 : 0)
            append(UInt64(rule.names.count))
            for name in rule.names { append(name) }
            append(UInt64(rule.conditions.count))
            for condition in rule.conditions {
                append(UInt64(condition.arg))
                append(UInt64(condition.op.rawValue))
                append(condition.datum_a)
                append(condition.datum_b)
            }
        }
        return key
    }
}
