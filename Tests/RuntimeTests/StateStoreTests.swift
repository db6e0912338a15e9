import BerthCore
import Foundation
import Glibc
import Linux
import OCI
@testable import Runtime
import TestSupport
import Testing

@Suite struct ContainerIDTests {
    @Test(arguments: ["a", "0", "web-1", "A_b+c-d.e", "a..b", "trailing.", String(repeating: "x", count: ContainerID.maximumLength)])
    func plainNamesAreAccepted(_ id: String) throws {
        try ContainerID.validate(id)
    }

    @Test(arguments: ["", ".", "..", ".hidden", "a/b", "/", "../x", "a b", "tab\there", "new\nline", "ümlaut", "semi;colon",
                      "star*", String(repeating: "x", count: ContainerID.maximumLength + 1)])
    func namesThatAreNotPlainAreRefused(_ id: String) {
        let error = #expect(throws: BerthError.self) { try ContainerID.validate(id) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.hasPrefix("container id") == true, "\(String(describing: error))")
    }
}

@Suite struct SyncMessageTests {
    static let messages: [SyncMessage] = [
        .begin(pid: 4242), .begin(pid: 1), .rootfsPrepared, .hooksDone, .ready, .stateWritten,
        .failed("mounts[3]: mount /proc: permission denied"), .failed(""), .failed("ünïcode ✓"),
        .userNamespaceReady, .initPid(31337), .bindSource("mounts[7]"),
    ]

    @Test(arguments: messages)
    func messageSurvivesEncodingAndDecoding(_ message: SyncMessage) {
        #expect(SyncMessage(message.encoded) == message)
    }

    @Test func eachKindOfMessageHasItsOwnTag() {
        let oneOfEach: [SyncMessage] = [.begin(pid: 1), .rootfsPrepared, .hooksDone, .ready, .stateWritten, .failed("x"),
                                        .userNamespaceReady, .initPid(1), .bindSource("m")]
        #expect(Set(oneOfEach.map { $0.encoded.first }).count == oneOfEach.count)
    }

    @Test(arguments: [[], [0], [99], [1], Array([1] + "12x".utf8), Array([8] + "-".utf8)] as [[UInt8]])
    func garbageDoesNotDecode(_ bytes: [UInt8]) {
        #expect(SyncMessage(bytes) == nil)
    }

    /// A bind source travels with its message; a message without one reads as it is.
    @Test func channelCarriesADescriptorWithItsMessage() throws {
        let (left, right) = try makeSocketPair()
        let parent = SyncChannel(left), child = SyncChannel(right)
        defer { parent.close(); child.close() }
        let source = try FileDescriptor.open("/", O_RDONLY | O_DIRECTORY)
        defer { source.close() }
        try parent.send(.bindSource("mounts[7]"), passing: source)
        try parent.send(.begin(pid: 7))
        let (message, passed) = try child.receiveWithDescriptor()
        #expect(message == .bindSource("mounts[7]"))
        let received = try #require(passed)
        defer { received.close() }
        var ours = Glibc.stat(), theirs = Glibc.stat()
        #expect(fstat(source.rawValue, &ours) == 0 && fstat(received.rawValue, &theirs) == 0 && ours.st_ino == theirs.st_ino)
        let (next, none) = try child.receiveWithDescriptor()
        #expect(next == .begin(pid: 7) && none == nil)
    }

    @Test func channelCarriesMessagesAndReportsAClosedPeerAsAFailure() throws {
        let (left, right) = try makeSocketPair()
        let parent = SyncChannel(left), child = SyncChannel(right)
        try parent.send(.begin(pid: 99))
        #expect(try child.receive() == .begin(pid: 99))
        try child.send(.ready)
        try parent.expect(.ready)

        try child.send(.failed("rootfs: boom"))
        let failure = #expect(throws: BerthError.self) { try parent.expect(.ready) }
        #expect(failure?.message == "rootfs: boom")

        try child.send(.hooksDone)
        let mismatch = #expect(throws: BerthError.self) { try parent.expect(.ready) }
        #expect(mismatch?.message.contains("expected") == true)

        child.close()
        guard case .failed = try parent.receive() else {
            Issue.record("a closed peer should read as a failure")
            return
        }
        parent.close()
    }
}

@Suite struct StateStoreTests {
    static func record(_ id: String, pid: Int32 = 0, startTime: UInt64 = 0) -> ContainerRecord {
        ContainerRecord(id: id, bundle: "/bundles/\(id)", rootfs: "/bundles/\(id)/rootfs", pid: pid, pidStartTime: startTime,
                        created: "2024-01-02T03:04:05.000000006Z", started: false, cgroupRoot: "/sys/fs/cgroup",
                        cgroupPath: "berth/\(id)", cgroupCreated: 1, annotations: ["org.example/key": "value"],
                        poststart: [], poststop: [.init(label: "hooks.poststop[0]", path: "/bin/true", args: ["true", "-x"], env: ["A=b"], timeout: 5)])
    }

    static func withStore(_ body: (StateStore, String) throws -> Void) throws {
        let directory = try TemporaryDirectory("berth-store")
        defer { directory.remove() }
        try body(StateStore(root: directory.path + "/nested/root"), directory.path)
    }

    @Test func createTwiceFailsWithExists() throws {
        try Self.withStore { store, _ in
            let lock = try store.create("one")
            defer { lock.close() }
            let error = #expect(throws: BerthError.self) { try store.create("one") }
            #expect(error?.code == .exists)
            #expect(error?.message.contains("already exists") == true)
            // The root was made private to root.
            var info = stat()
            #expect(stat(store.root, &info) == 0 && info.st_mode & 0o777 == 0o700)
        }
    }

    @Test func createRefusesIDsThatAreNotPlainNames() throws {
        try Self.withStore { store, base in
            #expect(throws: BerthError.self) { try store.create("../escape") }
            #expect(!FileManager.default.fileExists(atPath: base + "/nested/escape"))
        }
    }

    @Test func lockOfAMissingContainerFailsWithNotFound() throws {
        try Self.withStore { store, _ in
            let error = #expect(throws: BerthError.self) { try store.lock("ghost") }
            #expect(error?.code == .notFound)
        }
    }

    @Test func savedRecordLoadsBackEqual() throws {
        try Self.withStore { store, _ in
            let lock = try store.create("rt")
            lock.close()
            #expect(try store.load("rt") == nil, "no state.json yet")
            let record = Self.record("rt", pid: 1234, startTime: 987_654)
            try store.save(record)
            #expect(try store.load("rt") == record)
            var changed = record
            changed.started = true
            try store.save(changed)
            #expect(try store.load("rt") == changed)
            #expect(!FileManager.default.fileExists(atPath: store.statePath("rt") + ".tmp"))
        }
    }

    @Test func corruptStateIsAnError() throws {
        try Self.withStore { store, _ in
            try store.create("bad").close()
            try "{\"id\": \"bad\", \"pid\": ".write(toFile: store.statePath("bad"), atomically: false, encoding: .utf8)
            let error = #expect(throws: BerthError.self) { try store.load("bad") }
            #expect(error?.message.contains("corrupt state") == true)
        }
    }

    @Test func lockExcludesASecondHolderUntilReleased() async throws {
        let directory = try TemporaryDirectory("berth-store")
        defer { directory.remove() }
        let store = StateStore(root: directory.path)
        let first = try store.create("locked")
        let acquired = Flag()
        let waiter = Thread {
            if let second = try? store.lock("locked") {
                acquired.set()
                second.close()
            }
        }
        waiter.start()
        try await Task.sleep(nanoseconds: 200_000_000)
        #expect(!acquired.value, "a second lock was granted while the first was held")
        first.close()
        #expect(await eventually(timeout: 5) { acquired.value }, "the lock was not granted after release")
    }

    @Test func listHasValidContainerDirectoriesSortedAndRemoveDeletes() throws {
        try Self.withStore { store, _ in
            for id in ["b", "a", "c"] { try store.create(id).close() }
            #expect(FileManager.default.createFile(atPath: store.root + "/stray-file", contents: nil))
            try FileManager.default.createDirectory(atPath: store.root + "/.hidden", withIntermediateDirectories: false)
            #expect(store.list() == ["a", "b", "c"])
            store.remove("b")
            #expect(store.list() == ["a", "c"])
            #expect(!FileManager.default.fileExists(atPath: store.directory("b")))
        }
    }

    @Test func statusFollowsTheRecordTheInitAndTheFifo() throws {
        try Self.withStore { store, _ in
            try store.create("s").close()
            #expect(store.status(of: nil, id: "s") == .creating)
            // This test process stands in for a live init.
            let me = getpid()
            let live = Self.record("s", pid: me, startTime: try #require(ProcessControl.startTime(me)))
            #expect(mkfifo(store.fifoPath("s"), 0o600) == 0)
            #expect(store.status(of: live, id: "s") == .created)
            unlink(store.fifoPath("s"))
            #expect(store.status(of: live, id: "s") == .running)
            // Same pid, another start time: the pid was reused, the init is gone.
            #expect(store.status(of: Self.record("s", pid: me, startTime: live.pidStartTime + 1), id: "s") == .stopped)
            #expect(store.status(of: Self.record("s", pid: 0), id: "s") == .stopped)
        }
    }
}

/// A Bool set from another thread.
final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var flag = false
    func set() { lock.withLock { flag = true } }
    var value: Bool { lock.withLock { flag } }
}
