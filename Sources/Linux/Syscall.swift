import BerthCore
import CShim
import Glibc

// Every raw call in Linux that reports failure through errno goes through `sys`: one place for
// the EINTR policy and for turning errno into a BerthError that names the call and the path.
// (close(2), whose result means nothing, readdir(3) and the execve of `spawn`'s child, which has
// no one to report to, are the exceptions.) The calls of a container's set-up (ContainerInit,
// RootfsSetup, ProcessIdentity, the console) are made through `KernelCalls`, and `LiveKernel`,
// its one live implementation, is the only code that makes them. What outside Linux still calls
// Glibc directly is listed in docs/architecture.md.

/// Runs `body` until it does not fail with EINTR. Throws a `.system` BerthError naming `call`
/// and `path` when it returns -1. Works for int and ssize_t results alike.
@discardableResult
@inline(__always)
public func sys<Result: SignedInteger>(_ call: String, _ path: String? = nil, _ body: () -> Result) throws(BerthError) -> Result {
    while true {
        let result = body()
        if result != -1 { return result }
        let code = Glibc.errno
        if code == EINTR { continue }
        throw BerthError.systemCall(call, path, errno: code)
    }
}

extension BerthError {
    /// A failed system call: `mount /proc: permission denied`. The shape of every error `sys`
    /// throws, and of those a test double of `KernelCalls` throws.
    public static func systemCall(_ call: String, _ path: String?, errno code: Int32) -> BerthError {
        BerthError(.system, path.map { "\(call) \($0)" } ?? call, errno: code)
    }
}
