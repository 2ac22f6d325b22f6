import CLIPModel
import Foundation

/// The CPU lacks what clipcam's encoders were compiled for.
public struct CPUSupportError: Error, CustomStringConvertible {
    public var missing: [String]
    public var description: String {
        "this CPU lacks \(missing.joined(separator: " and ")), which clipcam's release build of the CLIP kernels "
            + "needs (x86-64 with AVX2 and FMA: Intel Haswell or AMD Zen and later); build without them with "
            + "`swift build -c debug`, which is much slower"
    }
}

public enum CPUCheck {
    /// The instruction-set extensions the release build of the numeric targets uses (see Package.swift).
    public static let required: [String] = {
        #if arch(x86_64)
            return ["avx2", "fma"]
        #else
            return []
        #endif
    }()

    /// Throws when `/proc/cpuinfo` lists flags and some of `required` are not among them.
    public static func verify(cpuinfo: String? = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) throws {
        guard !required.isEmpty, let flags = CPUFlags.parse(cpuinfo: cpuinfo) else { return }
        let missing = required.filter { !flags.contains($0) }
        if !missing.isEmpty { throw CPUSupportError(missing: missing) }
    }
}
