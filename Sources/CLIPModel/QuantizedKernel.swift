import Foundation

/// Which instructions run the integer paths' dot products (`--precision int16` and `int8`). For each path every
/// kernel computes the same exact Int32 sums, so they differ in speed only (and in the float rounding of what is
/// done with the sums).
public enum QuantizedKernel: String, Sendable, CaseIterable {
    /// AVX-512 VNNI (VNNIKernels): int16 on vpdpwssd, 8 lanes wide; int8 on vpdpbusd, 16 lanes wide. Each
    /// multiplies and accumulates in one instruction.
    case avx512vnni = "avx512-vnni"
    /// AVX2's vpmaddwd, then vpaddd, for both paths (int8's integers held in 16 bits).
    case avx2
    /// Plain Swift integer arithmetic (CPUs other than x86-64).
    case portable

    /// The CPU flags (as `/proc/cpuinfo` names them) the kernel's code was compiled for.
    public var requiredFlags: [String] {
        switch self {
        case .avx512vnni: ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl", "avx512_vnni"]
        case .avx2: ["avx2", "fma"]
        case .portable: []
        }
    }

    /// Whether this build has the kernel and this CPU can run it.
    public var isAvailable: Bool {
        #if arch(x86_64)
            return self != .portable && requiredFlags.allSatisfy(Self.cpuFlags.contains)
        #else
            return self == .portable
        #endif
    }

    /// Why this build or CPU cannot run the kernel, or nil when it can.
    public var unavailableReason: String? {
        guard !isAvailable else { return nil }
        let missing = requiredFlags.filter { !Self.cpuFlags.contains($0) }
        return missing.isEmpty
            ? "this build does not run it on this architecture" : "this CPU lacks \(missing.joined(separator: ", "))"
    }

    /// What `--precision int8` users should know about this kernel, or nil: only the VNNI kernel multiplies bytes;
    /// the others run int8's integers on their 16-bit products, at about int16's speed (measured on a Zen 5 with
    /// the AVX2 kernel forced, random ViT-B/32, one thread: int8 1.49× fp32, int16 1.58×).
    public var int8Warning: String? {
        guard self != .avx512vnni else { return nil }
        let why = Self.avx512vnni.unavailableReason.map { " (\($0))" } ?? " (CLIPCAM_INT8_KERNEL=\(rawValue))"
        return "int8 runs on the \(rawValue) kernel here\(why), which multiplies 16-bit integers: no faster than "
            + "--precision int16, and less exact; the 8-bit kernel needs AVX-512 VNNI"
    }

    /// The fastest kernel this CPU can run.
    public static let preferred: QuantizedKernel = allCases.first(where: \.isAvailable) ?? .portable

    /// `preferred`, unless the environment variable CLIPCAM_INT8_KERNEL names another kernel (`avx2` times the
    /// fallback on a VNNI CPU). Throws when it names no kernel, or one this CPU or build cannot run.
    public static func selected(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> QuantizedKernel {
        guard let name = environment["CLIPCAM_INT8_KERNEL"], !name.isEmpty else { return preferred }
        let available = allCases.filter(\.isAvailable).map(\.rawValue).joined(separator: ", ")
        guard let kernel = Self(rawValue: name) else {
            throw QuantizedKernelError(
                message: "CLIPCAM_INT8_KERNEL=\(name) names no int8 kernel; use one of: \(available) (or unset it)")
        }
        if let reason = kernel.unavailableReason {
            throw QuantizedKernelError(
                message: "CLIPCAM_INT8_KERNEL=\(name): \(reason); use one of: \(available) (or unset it)")
        }
        return kernel
    }

    /// Why `selected(environment:)` gives `kernel`, in words for `bench --json` and the logs: forced by the
    /// environment, or the CPU's flags (the integer kernels need no measurement: on a CPU with AVX-512 VNNI, even one
    /// that runs 512-bit instructions on 256-bit halves, one vpdpbusd or vpdpwssd does the work of AVX2's
    /// vpmaddwd-and-vpaddd pair over twice the lanes).
    public static func reason(
        for kernel: QuantizedKernel, environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> String {
        if let name = environment["CLIPCAM_INT8_KERNEL"], !name.isEmpty {
            return "forced by CLIPCAM_INT8_KERNEL=\(name)"
        }
        switch kernel {
        case .avx512vnni: return "the CPU lists avx512_vnni"
        case .avx2:
            let missing = Self.avx512vnni.requiredFlags.filter { !cpuFlags.contains($0) }
            return
                "the CPU lacks \(missing.isEmpty ? "nothing the VNNI kernel needs" : missing.joined(separator: ", "))"
        case .portable: return "not an x86-64 CPU with AVX2"
        }
    }

    /// This CPU's flags (empty where `/proc/cpuinfo` lists none).
    static let cpuFlags: Set<String> = CPUFlags.current ?? []
}

/// The instruction-set extensions of the CPU, as the `flags` line of `/proc/cpuinfo` names them (the kernel lists
/// only the extensions the OS has enabled).
public enum CPUFlags {
    /// This machine's flags, or nil where `/proc/cpuinfo` cannot be read or has no flags line.
    public static let current: Set<String>? = parse(
        cpuinfo: try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))

    /// The flags of the first `flags` line of a `/proc/cpuinfo` text, or nil without one.
    public static func parse(cpuinfo: String?) -> Set<String>? {
        guard let cpuinfo, let line = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
            let colon = line.firstIndex(of: ":")
        else { return nil }
        return Set(
            line[line.index(after: colon)...].split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init))
    }
}

/// CLIPCAM_INT8_KERNEL asks for a kernel that cannot run.
public struct QuantizedKernelError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
