import BerthCore
import Glibc
import Linux
import OCI
@testable import SupervisorAPI
import Testing

/// The control protocol's codec: every request round-trips, and anything else is refused with
/// a message naming the field, never a crash.
struct ControlProtocolTests {
    @Test(arguments: [ControlRequest.status, .stop(timeoutSeconds: 0), .stop(timeoutSeconds: 10), .kill(signal: 9), .pause, .resume, .wait,
                      .resize(rows: 24, columns: 80), .resize(rows: 1, columns: 65535)])
    func requestsRoundTrip(_ request: ControlRequest) throws {
        #expect(try ControlRequest(decoding: request.encoded) == request)
    }

    @Test(arguments: [
        ("", "request"), ("{", "request"), ("[]", "expected an object"), ("{}", "request.request"),
        ("{\"request\":5}", "request.request"), ("{\"request\":\"reboot\"}", "unknown request \"reboot\""),
        ("{\"request\":\"status\",\"extra\":1}", "request.extra"), ("{\"request\":\"stop\"}", "request.timeout"),
        ("{\"request\":\"stop\",\"timeout\":-1}", "request.timeout"), ("{\"request\":\"stop\",\"timeout\":1.5}", "request.timeout"),
        ("{\"request\":\"stop\",\"timeout\":99999999}", "request.timeout"), ("{\"request\":\"kill\",\"signal\":0}", "request.signal"),
        ("{\"request\":\"kill\",\"signal\":\"TERM\"}", "request.signal"), ("{\"request\":\"kill\",\"signal\":65}", "request.signal"),
        ("{\"request\":\"st", "request"), ("null", "expected an object"),
        ("{\"request\":\"resize\",\"cols\":80}", "request.rows"), ("{\"request\":\"resize\",\"rows\":24}", "request.cols"),
        ("{\"request\":\"resize\",\"rows\":0,\"cols\":80}", "request.rows: 0 is outside 1...65535"),
        ("{\"request\":\"resize\",\"rows\":24,\"cols\":65536}", "request.cols: 65536 is outside 1...65535"),
        ("{\"request\":\"resize\",\"rows\":-3,\"cols\":80}", "request.rows"), ("{\"request\":\"resize\",\"rows\":2.5,\"cols\":80}", "request.rows"),
        ("{\"request\":\"resize\",\"rows\":\"24\",\"cols\":80}", "request.rows"),
        ("{\"request\":\"resize\",\"rows\":24,\"cols\":80,\"width\":1}", "request.width: not a field of \"resize\""),
    ])
    func malformedRequestsAreRefusedNamingTheField(_ text: String, _ fragment: String) {
        #expect {
            try ControlRequest(decoding: Array(text.utf8))
        } throws: { error in
            "\(error)".contains(fragment)
        }
    }

    @Test func resizeIsWrittenWithRowsAndCols() {
        #expect(String(decoding: ControlRequest.resize(rows: 40, columns: 120).encoded, as: UTF8.self) == "{\"request\":\"resize\",\"rows\":40,\"cols\":120}")
    }

    @Test func randomBytesNeverCrashTheDecoder() {
        var generator = SystemRandomNumberGenerator()
        for length in [1, 2, 7, 64, 1000, 4096] {
            for _ in 0..<50 {
                let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
                _ = try? ControlRequest(decoding: bytes)
                _ = try? ControlResponse(decoding: bytes)
            }
        }
        let deep = Array(repeating: UInt8(ascii: "["), count: 100_000)
        #expect(throws: BerthError.self) { try ControlRequest(decoding: deep) }
    }

    @Test func oversizedRequestsAreRefusedBeforeParsing() {
        let big = Array("{\"request\":\"status\"}".utf8) + Array(repeating: UInt8(ascii: " "), count: ControlProtocol.maximumMessageSize)
        #expect { try ControlRequest(decoding: big) } throws: { "\($0)".contains("more than the 65536 allowed") }
    }

    @Test func responsesRoundTrip() throws {
        var status = ServiceStatus(state: .running, supervisorPid: 10, supervisorStartTime: 99, pid: 11, pidStartTime: 100,
                                   startedAt: Timestamp(nanoseconds: 1_700_000_000_123_456_789), restartCount: 2)
        status.record(ExitRecord(startedAt: nil, finishedAt: Timestamp(nanoseconds: 1_700_000_001_000_000_000), exitCode: 3))
        for response in [ControlResponse.status(status), .done, .ended(status), .failed("no \"such\" thing\n")] {
            #expect(try ControlResponse(decoding: response.encoded) == response)
        }
    }

    /// The kernel keeps packet boundaries and reports an oversized packet's true length, which
    /// the receiver turns into `.oversized` without buffering it.
    @Test func oversizedPacketsAreReportedNotBuffered() throws {
        let (a, b) = try makeSocketPair()
        defer { a.close(); b.close() }
        var size: Int32 = 4 << 20
        _ = setsockopt(a.rawValue, SOL_SOCKET, 32 /* SO_SNDBUFFORCE */, &size, socklen_t(4))
        try ControlSocket.send([UInt8](repeating: 1, count: 100_000), on: a)
        try ControlSocket.send(ControlRequest.status.encoded, on: a)
        #expect(try ControlSocket.receive(on: b) == .oversized(100_000))
        #expect(try ControlSocket.receive(on: b) == .message(ControlRequest.status.encoded))
        a.close()
        #expect(try ControlSocket.receive(on: b) == .closed)
    }
}
