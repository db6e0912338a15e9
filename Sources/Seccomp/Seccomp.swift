// The Seccomp module turns `linux.seccomp` into a BPF program and installs it.
//
// Compiling and loading are split across the fork:
//
//     // parent, before clone: libseccomp resolves names and generates BPF
//     let program = try SeccompProgram.compile(spec.linux!.seccomp!)
//     for warning in program.warnings { print("berth: warning: \(warning)") }
//
//     // child, after no_new_privs (or with CAP_SYS_ADMIN), just before execve:
//     let listener = try program.load(using: berth_seccomp)   // no libseccomp, no allocation
//
// The child only makes one seccomp(2) call with the bytes the parent produced. See
// docs/seccomp.md for the design and the default profile.

// Errors are BerthErrors naming the JSON path of the offending value, coded `.invalidConfig`
// (wrong whatever the host), `.unsupported` (this kernel or libseccomp cannot do it) or
// `.system` (a failed call; its message already says what the errno means):
//
//     linux.seccomp.syscalls[3].args[0].index: argument index 6 is out of range 0-5
//     linux.seccomp.flags[1]: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV is not supported by this kernel

/// The raw seccomp(2) system call: `seccomp(operation, flags, args)`, returning what the
/// kernel returns (-1 with `errno` set on failure). The runtime passes CShim's
/// `berth_seccomp`; Swift cannot call the variadic `syscall(2)` itself.
public typealias SeccompSyscall = (_ operation: UInt32, _ flags: UInt32, _ args: UnsafeMutableRawPointer?) -> Int32
