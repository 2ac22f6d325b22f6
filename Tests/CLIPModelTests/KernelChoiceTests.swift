import Foundation
import Testing

@testable import CLIPModel

/// The CPU's identification and the choice of the fp32 kernel from it.
@Suite struct KernelChoiceTests {
    /// Why `kernel`'s tests are skipped on this CPU.
    static func notRun(_ kernel: FloatKernel) -> Comment {
        Comment(rawValue: "the \(kernel.rawValue) kernel is not tested: \(kernel.unavailability() ?? "")")
    }

    /// Reported as skipped, naming the missing flags, where this CPU cannot run the AVX-512 kernel; the product,
    /// attention and reference tests then run on the AVX2 kernel alone.
    @Test(.enabled(if: FloatKernel.avx512.isAvailable(), notRun(.avx512)))
    func avx512KernelIsTested() {
        #expect(testedKernels.contains(.avx512))
    }

    /// Reported as skipped, naming the missing flags, where this CPU cannot run the AVX2 kernel.
    @Test(.enabled(if: FloatKernel.avx2.isAvailable(), notRun(.avx2)))
    func avx2KernelIsTested() {
        #expect(testedKernels.contains(.avx2))
    }

    static let zen5 = """
        processor\t: 0
        vendor_id\t: AuthenticAMD
        cpu family\t: 26
        model\t\t: 2
        model name\t: AMD EPYC
        flags\t\t: fpu sse sse2 avx2 fma avx512f avx512dq avx512cd avx512bw avx512vl avx512_vnni avx512_bf16

        processor\t: 1
        vendor_id\t: GenuineIntel
        cpu family\t: 6
        model\t\t: 85
        flags\t\t: fpu sse
        """

    static let haswell = """
        processor\t: 0
        vendor_id\t: GenuineIntel
        cpu family\t: 6
        model\t\t: 63
        model name\t: Intel(R) Xeon(R) CPU E5-2680 v3 @ 2.50GHz
        flags\t\t: fpu sse sse2 avx avx2 fma bmi2
        """

    @Test func cpuinfoIsReadFromTheFirstProcessor() {
        let cpu = CPUInfo(cpuinfo: Self.zen5)
        #expect(cpu.vendor == "AuthenticAMD" && cpu.family == 26 && cpu.model == 2 && cpu.modelName == "AMD EPYC")
        #expect(cpu.flags.contains("avx512f") && cpu.flags.contains("fma") && !cpu.flags.contains("flags"))
        #expect(cpu.summary == "AuthenticAMD family 26 model 2 (AMD EPYC)")
        #expect(cpu.missing(["avx2", "avx512f", "amx_tile", "avx512_fp16"]) == ["amx_tile", "avx512_fp16"])
        let unknown = CPUInfo(cpuinfo: nil)
        #expect(unknown.vendor == "unknown" && unknown.family == nil && unknown.model == nil && unknown.flags.isEmpty)
        #expect(unknown.summary == "unknown (unknown)")
        #expect(CPUInfo(cpuinfo: "\n\nvendor_id : X\nmodel : 7\n").model == 7)
    }

    /// Without AVX-512 the AVX2 kernel is taken, the reason naming the missing flags, and nothing is measured.
    @Test func withoutAVX512TheAVX2KernelIsTakenUnmeasured() {
        let cpu = CPUInfo(cpuinfo: Self.haswell)
        #expect(FloatKernel.available(on: cpu) == [.avx2])
        let choice = FloatKernel.choose(on: cpu) {
            Issue.record("measured on a CPU without AVX-512")
            return 2
        }
        #expect(choice.kernel == .avx2 && choice.measuredAVX512Speedup == nil)
        #expect(choice.reason == "no AVX-512: the CPU lacks avx512f, avx512cd, avx512bw, avx512dq, avx512vl")
    }

    /// With AVX-512 the measured speed-up decides: 16 lanes on 512-bit units, the AVX2 kernel on 256-bit halves.
    @Test func withAVX512TheMeasurementDecides() {
        let cpu = CPUInfo(cpuinfo: Self.zen5)
        #if arch(x86_64)
            #expect(FloatKernel.available(on: cpu) == [.avx512, .avx2])
            let wide = FloatKernel.choose(on: cpu) { 1.93 }
            #expect(wide.kernel == .avx512 && wide.measuredAVX512Speedup == 1.93)
            #expect(wide.reason.contains("measured 1.93×") && wide.reason.contains("512-bit units"))
            let halves = FloatKernel.choose(on: cpu) { 1.08 }
            #expect(halves.kernel == .avx2 && halves.measuredAVX512Speedup == 1.08)
            #expect(halves.reason.contains("only 1.08×") && halves.reason.contains("under 1.2×"))
            #expect(FloatKernel.choose(on: cpu) { FloatKernel.avx512Margin }.kernel == .avx512)
        #endif
    }

    /// This machine's choice is one of the kernels it can run, and it says why.
    @Test func thisMachinesChoice() {
        let choice = FloatKernel.automatic
        #expect(choice.kernel.isAvailable())
        #expect(FloatKernel.available().contains(choice.kernel))
        #expect(!choice.reason.isEmpty)
        print("fp32 kernel on \(CPUInfo.current.summary): \(choice.kernel.rawValue), \(choice.reason)")
    }

    /// CLIPCAM_KERNEL forces a kernel; a name that is no kernel, or one this CPU cannot run, is an error naming the
    /// kernels, the ones this CPU runs and (for the latter) the missing flags.
    @Test func kernelForcedByTheEnvironment() throws {
        let zen5 = CPUInfo(cpuinfo: Self.zen5)
        let haswell = CPUInfo(cpuinfo: Self.haswell)
        #expect(try FloatKernel.selected(environment: [:]).kernel == FloatKernel.automatic.kernel)
        #expect(try FloatKernel.selected(environment: ["CLIPCAM_KERNEL": ""]).kernel == FloatKernel.automatic.kernel)
        let forced = try FloatKernel.selected(environment: ["CLIPCAM_KERNEL": "avx2"], cpu: zen5)
        #expect(forced.kernel == .avx2 && forced.reason == "forced by CLIPCAM_KERNEL=avx2")
        #if arch(x86_64)
            #expect(try FloatKernel.selected(environment: ["CLIPCAM_KERNEL": "avx512"], cpu: zen5).kernel == .avx512)
        #endif
        #expect(throws: FloatKernelError.self) {
            try FloatKernel.selected(environment: ["CLIPCAM_KERNEL": "sse2"], cpu: zen5)
        }
        do {
            _ = try FloatKernel.selected(environment: ["CLIPCAM_KERNEL": "sse2"], cpu: haswell)
        } catch {
            #expect(
                "\(error)"
                    == "CLIPCAM_KERNEL=sse2 names no fp32 kernel; the kernels are avx512, avx2, and this CPU runs "
                    + "avx2 (or unset it to choose automatically)")
        }
        do {
            _ = try FloatKernel.selected(environment: ["CLIPCAM_KERNEL": "avx512"], cpu: haswell)
            Issue.record("avx512 was accepted on a CPU without AVX-512")
        } catch {
            #expect(
                "\(error)"
                    == "CLIPCAM_KERNEL=avx512 cannot run here: the CPU lacks avx512f, avx512cd, avx512bw, avx512dq, "
                    + "avx512vl; this CPU runs avx2 (or unset it to choose automatically)")
        }
    }

    /// A model asked for a kernel this CPU cannot run refuses to load, naming it and what is missing.
    @Test func modelRefusesAKernelTheCPUCannotRun() throws {
        for kernel in FloatKernel.allCases {
            guard let reason = kernel.unavailability() else { continue }
            #expect {
                try CLIPModel(directory: Fixtures.model("tiny-quickgelu-f32"), floatKernel: .forced(kernel))
            } throws: { error in
                "\(error)" == "the fp32 kernel \(kernel.rawValue) cannot run here: \(reason)"
            }
        }
    }
}
