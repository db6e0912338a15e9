import BerthCore
import CShim
import Glibc

// Every raw call in Berth goes through `sys`: one place for the EINTR policy and for turning
// errno into a BerthError that names the call and the path.

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
        throw BerthError(.system, path.map { "\(call) \($0)" } ?? call, errno: code)
    }
}
