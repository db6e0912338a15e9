import Linux
@testable import Supervisor
import SupervisorAPI
import Testing
import TestSupport

/// A supervisor that dies between writing a switch's status and its files: the next one brings
/// service.json and the configs up to the version status.json names.
struct SwitchRecoveryTests {
    /// A service directory whose service.json describes version 1.
    static func serviceAtVersion1(_ directory: TemporaryDirectory) throws -> (ServiceDirectory, ServiceDefinition) {
        let service = ServiceDirectory(root: directory.path, name: "web")
        try Files.makeDirectories(service.path, mode: 0o700)
        let v1 = ServiceDefinition(name: "web", id: "aaaa", source: "/v1", bundle: "/v1", rootfs: "/v1", command: ["webapp"])
        try service.save(v1)
        return (service, v1)
    }

    @Test func aSwitchInterruptedAfterItsStatusIsFinishedFromTheStatus() throws {
        let directory = try TemporaryDirectory("switch")
        defer { directory.remove() }
        let (service, v1) = try Self.serviceAtVersion1(directory)
        try Files.writeAtomically(service.configPath, Array("{\"ociVersion\":\"1.0.0\",\"v\":1}".utf8), mode: 0o600)
        try Files.writeAtomically(service.nextConfigPath, Array("{\"ociVersion\":\"1.0.0\",\"v\":2}".utf8), mode: 0o600)
        let v2 = ServiceVersion(number: 2, id: "bbbb", source: "/v2", bundle: "/v2", rootfs: "/v2", command: ["webapp", "-q"])
        var status = ServiceStatus(state: .running)
        status.version = 2
        status.activeVersion = v2

        let caughtUp = try Supervisor.finishSwitch(service, v1, status)
        #expect(caughtUp.id == "bbbb" && caughtUp.source == "/v2" && caughtUp.command == ["webapp", "-q"])
        #expect(try service.loadDefinition() == caughtUp)
        #expect(try Files.readString(service.configPath).contains("\"v\":2"))
        #expect(try Files.readString(service.previousConfigPath).contains("\"v\":1"))
        #expect(!Files.exists(service.nextConfigPath))
        #expect(try service.loadPreviousVersion() == v1.version(number: 1))

        // Done once: a second adoption finds nothing to finish.
        #expect(try Supervisor.finishSwitch(service, caughtUp, status) == caughtUp)
        #expect(try Files.readString(service.previousConfigPath).contains("\"v\":1"))
    }

    @Test func aStatusWithoutASwitchLeavesTheFilesAlone() throws {
        let directory = try TemporaryDirectory("switch")
        defer { directory.remove() }
        let (service, v1) = try Self.serviceAtVersion1(directory)
        // A rollout in flight (its next config written), status still on v1: nothing moves.
        try Files.writeAtomically(service.nextConfigPath, Array("{}".utf8), mode: 0o600)
        #expect(try Supervisor.finishSwitch(service, v1, ServiceStatus(state: .running)) == v1)
        #expect(Files.exists(service.nextConfigPath))
    }
}
