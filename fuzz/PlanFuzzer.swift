// libFuzzer entry point for `make fuzz`: config.json bytes -> decoder -> plan validator.
// Built by scripts/fuzz.sh with swiftc -sanitize=fuzzer against the package's modules; not a
// SwiftPM target (libFuzzer brings its own main). The seeded, portable version of the same
// fuzzing is Tests/RuntimeTests/PlanFuzzTests.swift.
import Glibc
import OCI
import Runtime

/// A bundle with a rootfs and a bind source, made once per fuzzing process.
nonisolated(unsafe) var bundle = ""

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    var template = Array("/tmp/berth-fuzz-XXXXXX".utf8CString)
    guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else { return 1 }
    bundle = String(cString: made)
    mkdir(bundle + "/rootfs", 0o755)
    mkdir(bundle + "/data", 0o755)
    atexit { _ = rmdir(bundle + "/rootfs"); _ = rmdir(bundle + "/data"); _ = rmdir(bundle) }
    // Warnings (unknown syscall names) would flood the output.
    warningHandler = { _ in }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let spec = try? decodeJSON(Spec.self, from: bytes) else { return 0 }
    do {
        _ = try LaunchPlan(spec: spec, id: "fuzz", bundle: bundle)
    } catch {
        // A refusal must say something.
        if error.description.isEmpty { abort() }
    }
    return 0
}
