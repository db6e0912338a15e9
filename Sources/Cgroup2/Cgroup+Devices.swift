import BerthCore
import CShim
import Glibc
import Linux

/// Device access control: a ``DeviceProgram`` loaded into the kernel and attached to the cgroup.
extension Cgroup {
    /// Loads `program` and attaches it with BPF_F_ALLOW_MULTI, then detaches the device programs
    /// berth attached here before (an update's old rules). In between both are attached, and
    /// the kernel allows an access only if every program does: stricter, never more open, so
    /// there is no moment without device control. Programs of anyone else stay attached.
    ///
    /// A kernel that cannot load or attach it is an error (`.unsupported`): a container must not
    /// run without the rules it asked for.
    public func attachDeviceProgram(_ program: DeviceProgram) throws(BerthError) {
        let directory = try open()
        defer { directory.close() }
        let loaded = try Self.load(program)
        defer { loaded.close() }
        let old = try berthDevicePrograms(in: directory)
        if berth_bpf_attach_device_program(loaded.rawValue, directory.rawValue, Self.allowMulti) != 0 {
            let code = Glibc.errno
            throw BerthError(.unsupported, "linux.resources.devices: cannot attach the device program to \(self.directory) (BPF_PROG_ATTACH)", errno: code)
        }
        for previous in old {
            defer { previous.fd.close() }
            if berth_bpf_detach_device_program(previous.fd.rawValue, directory.rawValue) != 0 && Glibc.errno != ENOENT {
                let code = Glibc.errno
                throw BerthError(.system, "linux.resources.devices: cannot detach the previous device program \(previous.id) from \(self.directory)", errno: code)
            }
        }
    }

    /// BPF_F_ALLOW_MULTI: the program joins those attached here and above instead of replacing
    /// or overriding them.
    static let allowMulti: UInt32 = 2

    /// Detaches every device program berth attached to this cgroup; for a cgroup whose processes
    /// are gone, just before it is removed. rmdir alone would also drop them, but only once the
    /// kernel releases the cgroup, which a socket it still charges can delay. Best effort.
    public func detachDevicePrograms() {
        guard let directory = try? open() else { return }
        defer { directory.close() }
        for program in (try? berthDevicePrograms(in: directory)) ?? [] {
            _ = berth_bpf_detach_device_program(program.fd.rawValue, directory.rawValue)
            program.fd.close()
        }
    }

    /// The ids of the device programs attached to this cgroup itself, berth's or not.
    public func deviceProgramIDs() throws(BerthError) -> [UInt32] {
        let directory = try open()
        defer { directory.close() }
        return try Self.attachedIDs(directory, self.directory)
    }

    /// Descriptors for berth's device programs attached to the cgroup open as `directory`.
    private func berthDevicePrograms(in directory: FileDescriptor) throws(BerthError) -> [(id: UInt32, fd: FileDescriptor)] {
        var found: [(id: UInt32, fd: FileDescriptor)] = []
        for id in try Self.attachedIDs(directory, self.directory) {
            // Gone between the query and now: detached by a concurrent update or delete.
            let raw = berth_bpf_program_by_id(id)
            guard raw >= 0 else { continue }
            let fd = FileDescriptor(rawValue: raw)
            var infoID: UInt32 = 0
            var name = [CChar](repeating: 0, count: 16)
            if berth_bpf_program_info(raw, &infoID, &name) == 0, String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) == DeviceProgram.name {
                found.append((id, fd))
            } else {
                fd.close()
            }
        }
        return found
    }

    private static func attachedIDs(_ directory: FileDescriptor, _ path: String) throws(BerthError) -> [UInt32] {
        var capacity: UInt32 = 16
        while true {
            var ids = [UInt32](repeating: 0, count: Int(capacity))
            var count = capacity
            if berth_bpf_query_device_programs(directory.rawValue, &ids, &count) == 0 {
                return Array(ids.prefix(Int(min(count, capacity))))
            }
            let code = Glibc.errno
            // More attached than we asked for: ask again with room for them all.
            if code == ENOSPC && count > capacity { capacity = count; continue }
            throw BerthError(.unsupported, "linux.resources.devices: cannot list the device programs of \(path) (BPF_PROG_QUERY)", errno: code)
        }
    }

    /// BPF_PROG_LOAD; the verifier's last words on failure.
    static func load(_ program: DeviceProgram) throws(BerthError) -> FileDescriptor {
        let bytes = program.bytes
        var log = [CChar](repeating: 0, count: 4096)
        let fd = bytes.withUnsafeBytes { raw in
            berth_bpf_load_device_program(raw.baseAddress, UInt32(program.instructions.count), DeviceProgram.name, &log, UInt32(log.count))
        }
        guard fd >= 0 else {
            let code = Glibc.errno
            let text = String(decoding: log.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let reason = text.split(separator: "\n").last.map { " (verifier: \($0))" } ?? ""
            throw BerthError(.unsupported, "linux.resources.devices: the kernel refused the device program (BPF_PROG_LOAD of \(program.instructions.count) instructions)\(reason)", errno: code)
        }
        return FileDescriptor(rawValue: fd)
    }
}

extension DeviceProgram {
    /// Whether the kernel still holds the loaded program `id`: one detached from its last cgroup
    /// is freed. For checks that `delete` leaves nothing behind.
    public static func isLoaded(id: UInt32) -> Bool {
        let fd = berth_bpf_program_by_id(id)
        if fd >= 0 { Glibc.close(fd); return true }
        return Glibc.errno != ENOENT
    }
}
