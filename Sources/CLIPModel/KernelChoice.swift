// Which kernel runs the fp32 products, chosen at run time for the CPU found (CPUInfo).
//
// The flags tell whether a CPU has AVX-512, not how wide its units are: Zen 5 and Intel's Xeons since Skylake-SP
// (with two FMA units) run a 16-lane FMA at once, Zen 4 (and Xeons with one FMA unit) in two 256-bit halves, so that
// 16-lane blocks do no more multiply-adds per cycle than 8-lane ones. So on a CPU with AVX-512 the choice is
// measured once per process: both kernels multiply the same small product in turn, and the 16-lane kernel is taken
// when its best time beats the 8-lane kernel's by at least `avx512Margin`. Measured on the 2-core AMD EPYC of family
// 26 model 2 (Zen 5, 512-bit units), release build: the measurement takes 2.1 ms and gives 1.92–1.95× (five
// processes, load average 4–5). Where it gives less, the 8-lane kernel is kept: on the Zen 4 this project was first
// measured on, the AVX2 kernel ran at 100–110 GFLOP/s of the FMA units' 110–115 (register operands only), and 8 × 24,
// 7 × 24 and 5 × 24 blocks in AVX-512's 32 registers measured the same, so the AVX-512 side cannot gain much there.
// CLIPCAM_KERNEL=<name> forces a kernel (to time or test one).
import Foundation

#if arch(x86_64)
    import AVX512Kernels
#endif

/// The instructions of the fp32 matrix products. Both compute the same sums in different orders (results differ by
/// rounding only).
public enum FloatKernel: String, Sendable, CaseIterable {
    /// 16-lane AVX-512 blocks of 10 rows × 32 columns (AVX512Kernels).
    case avx512
    /// 8-lane AVX2 + FMA blocks of 4 rows × 24 columns (PackedGEMM; plain 8-lane SIMD code off x86-64).
    case avx2

    /// The CPU flags (as `/proc/cpuinfo` names them) the kernel's code was compiled for.
    public var requiredFlags: [String] {
        switch self {
        case .avx512: ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"]
        case .avx2:
            #if arch(x86_64)
                ["avx2", "fma"]
            #else
                []
            #endif
        }
    }

    /// Outputs per packed panel.
    var panelWidth: Int {
        switch self {
        case .avx512: 32
        case .avx2: 24
        }
    }

    /// Why this build cannot run the kernel on `cpu`, or nil when it can.
    public func unavailability(on cpu: CPUInfo = .current) -> String? {
        #if !arch(x86_64)
            if self == .avx512 { return "this build has no AVX-512 kernel on this architecture" }
        #endif
        let missing = cpu.missing(requiredFlags)
        return missing.isEmpty ? nil : "the CPU lacks \(missing.joined(separator: ", "))"
    }

    /// Whether this build has the kernel and `cpu` can run it.
    public func isAvailable(on cpu: CPUInfo = .current) -> Bool { unavailability(on: cpu) == nil }

    /// The kernels `cpu` can run, fastest first.
    public static func available(on cpu: CPUInfo = .current) -> [FloatKernel] {
        allCases.filter { $0.isAvailable(on: cpu) }
    }

    /// How much faster (best time over best time) the 16-lane kernel must measure to be chosen.
    public static let avx512Margin = 1.2

    /// This machine's kernel, chosen on first use (measured once per process where the CPU has AVX-512).
    public static let automatic: FloatKernelChoice = choose(on: .current, speedup: { measuredAVX512Speedup() })

    /// The choice for `cpu`; `speedup` measures the 16-lane kernel's speed over the 8-lane one's and is called only
    /// when `cpu` can run both.
    static func choose(on cpu: CPUInfo, speedup: () -> Double) -> FloatKernelChoice {
        if let reason = FloatKernel.avx512.unavailability(on: cpu) {
            return FloatKernelChoice(kernel: .avx2, reason: "no AVX-512: \(reason)", measuredAVX512Speedup: nil)
        }
        let ratio = speedup()
        let measured = String(format: "%.2f", ratio)
        if ratio >= avx512Margin {
            return FloatKernelChoice(
                kernel: .avx512,
                reason: "AVX-512 measured \(measured)× the AVX2 kernel's speed at start-up (at least "
                    + "\(avx512Margin)×: 512-bit units)",
                measuredAVX512Speedup: ratio)
        }
        #if DEBUG
            // Unoptimised, the AVX-512 kernel's generic blocks run far slower than the AVX2 kernel's plain code.
            let why = "in a debug build the AVX-512 kernel is not optimised"
        #else
            let why = "256-bit units, which run 16 lanes as two halves"
        #endif
        return FloatKernelChoice(
            kernel: .avx2,
            reason: "AVX-512 measured only \(measured)× the AVX2 kernel's speed at start-up (under "
                + "\(avx512Margin)×: \(why))",
            measuredAVX512Speedup: ratio)
    }

    /// `automatic`, unless the environment variable CLIPCAM_KERNEL names a kernel. Throws when it names none, or one
    /// this CPU or build cannot run.
    public static func selected(
        environment: [String: String] = ProcessInfo.processInfo.environment, cpu: CPUInfo = .current
    ) throws -> FloatKernelChoice {
        guard let name = environment["CLIPCAM_KERNEL"], !name.isEmpty else { return automatic }
        let runnable = available(on: cpu).map(\.rawValue).joined(separator: ", ")
        guard let kernel = FloatKernel(rawValue: name) else {
            throw FloatKernelError(
                message: "CLIPCAM_KERNEL=\(name) names no fp32 kernel; the kernels are "
                    + "\(allCases.map(\.rawValue).joined(separator: ", ")), and this CPU runs \(runnable) "
                    + "(or unset it to choose automatically)")
        }
        if let reason = kernel.unavailability(on: cpu) {
            throw FloatKernelError(
                message: "CLIPCAM_KERNEL=\(name) cannot run here: \(reason); this CPU runs \(runnable) "
                    + "(or unset it to choose automatically)")
        }
        return FloatKernelChoice(kernel: kernel, reason: "forced by CLIPCAM_KERNEL=\(name)", measuredAVX512Speedup: nil)
    }

    /// Best time of the 8-lane kernel over best time of the 16-lane one on a 20 × 256 × 96 product (fits in the L2
    /// cache; both kernels' blocks come out whole), the two taking turns 40 times. Call only where both can run.
    static func measuredAVX512Speedup() -> Double {
        let rows = 20
        let depth = 256
        let outputs = 96
        let a = (0..<(rows * depth)).map { Float(($0 * 31) % 17) / 8 - 1 }
        let w = (0..<(outputs * depth)).map { Float(($0 * 7) % 13) / 6 - 1 }
        let y = UnsafeMutablePointer<Float>.allocate(capacity: rows * outputs)
        defer { y.deallocate() }
        let kernels: [FloatKernel] = [.avx2, .avx512]
        let packed = kernels.map { PackedPanels(weight: w, outputs: outputs, depth: depth, kernel: $0) }
        var best = [Double](repeating: .infinity, count: kernels.count)
        for _ in 0..<40 {
            for (index, panels) in packed.enumerated() {
                let start = DispatchTime.now().uptimeNanoseconds
                for _ in 0..<4 {
                    PackedGEMM.multiply(
                        a, rows: rows, lda: depth, panels, bias: nil, panels: 0..<panels.panels,
                        output: ProductOutput(pointer: y, stride: outputs))
                }
                best[index] = min(best[index], Double(DispatchTime.now().uptimeNanoseconds - start))
            }
        }
        return best[0] / best[1]
    }
}

/// A kernel and why it was chosen.
public struct FloatKernelChoice: Sendable {
    public var kernel: FloatKernel
    /// One sentence: the measurement, the missing flags or the environment variable that decided.
    public var reason: String
    /// The start-up measurement's ratio, where one was made.
    public var measuredAVX512Speedup: Double?

    /// `kernel`, chosen by the caller (to test or time it).
    public static func forced(_ kernel: FloatKernel) -> FloatKernelChoice {
        FloatKernelChoice(kernel: kernel, reason: "chosen by the caller", measuredAVX512Speedup: nil)
    }
}

/// CLIPCAM_KERNEL asks for a kernel that does not exist or cannot run.
public struct FloatKernelError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
