import BerthCore
import CShim
import Glibc

/// Moving a network interface into a container's network namespace (linux.netDevices).
public enum NetworkDevice {
    /// Moves `name` of this network namespace into the one `namespace` names, renamed
    /// `newName`, with its permanent global addresses and up, as the runtime-spec asks.
    public static func move(_ name: String, into namespace: FileDescriptor, as newName: String) throws(BerthError) {
        var stage: Int32 = 0
        guard berth_link_move(name, namespace.rawValue, newName, &stage) != 0 else { return }
        let code = Glibc.errno
        let step = ["finding it or taking it down", "moving it into the container as \(newName)", "adding its addresses in the container",
                    "bringing \(newName) up in the container"]
        throw BerthError(.system, step[Int(max(0, min(stage, 3)))], errno: code)
    }

    /// An interface name the kernel takes (dev_valid_name): 1 to 15 bytes, no "/", ":" or
    /// white space, not "." or "..".
    public static func isValidName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        return !bytes.isEmpty && bytes.count < 16 && name != "." && name != ".."
            && !bytes.contains { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: ":") || $0 == 0x20 || (0x09...0x0d).contains($0) }
    }
}
