// Whether a model fits in memory before its weights are packed: packing copies every weight into panels, and an
// allocation that fails there can only end the process. The estimate is what packing allocates (4 bytes per
// weight, plus the integer copies of the image encoder at reduced precision); it is compared with what the kernel
// says is available (MemAvailable) and with the address space a limit (ulimit -v) leaves.
import Foundation
import Glibc

/// The model does not fit.
public struct MemoryError: Error, CustomStringConvertible, Equatable {
    public var file: String
    public var needed: Int
    public var available: Int
    public var limitedBy: String

    public var description: String {
        let gib = { (bytes: Int) in String(format: "%.1f GB", Double(bytes) / 1e9) }
        return "\(file) needs about \(gib(needed)) of memory once packed, but only \(gib(available)) is available "
            + "(\(limitedBy)); close other programs, or use a smaller model"
    }
}

enum MemoryCheck {
    /// Throws `MemoryError` when packing `weightCount` weights (plus `extraBytes`) would not fit.
    static func check(weightCount: Int, extraBytes: Int = 0, file: String) throws {
        let needed = weightCount.multipliedReportingOverflow(by: 4).partialValue + extraBytes
        if let available = availableMemory(), needed > available {
            throw MemoryError(
                file: file, needed: needed, available: available, limitedBy: "MemAvailable in /proc/meminfo")
        }
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_AS.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max {
            let used = addressSpaceUsed() ?? 0
            let room = Int(clamping: limit.rlim_cur) - used
            if needed > room {
                throw MemoryError(
                    file: file, needed: needed, available: max(room, 0), limitedBy: "the address-space limit, ulimit -v"
                )
            }
        }
    }

    /// MemAvailable from /proc/meminfo, in bytes.
    static func availableMemory() -> Int? {
        field("MemAvailable:", in: "/proc/meminfo").map { $0 * 1024 }
    }

    /// This process's address space (VmSize in /proc/self/status), in bytes.
    static func addressSpaceUsed() -> Int? {
        field("VmSize:", in: "/proc/self/status").map { $0 * 1024 }
    }

    /// The number after `label` on its line of a /proc text file (kB values).
    private static func field(_ label: String, in path: String) -> Int? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix(label) })
        else { return nil }
        return Int(line.dropFirst(label.count).split(separator: " ").first ?? "")
    }
}
