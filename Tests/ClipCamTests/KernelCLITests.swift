import CLIPModel
import Foundation
import Testing

/// The fp32 kernel as the command line shows it: bench's JSON names the CPU, the kernel and why; CLIPCAM_KERNEL
/// forces one, and a value that names none or one this CPU cannot run is an error naming the choices; run logs the
/// kernel once.
@Suite struct KernelCLITests {
    static let benchArguments = [
        "bench", "--model", Repo.model("tiny-quickgelu-f32").path, "--runs", "2", "--threads", "1", "--json",
        "--pipeline-frames", "0", "--startup-runs", "0",
    ]

    @Test func benchNamesTheCPUAndTheKernel() throws {
        let cpu = CPUInfo.current
        // Unset, the child measures its own choice: one of the kernels this CPU runs.
        let runnable = FloatKernel.available().map(\.rawValue)
        for setting in [""] + runnable {
            let run = try clipcam(Self.benchArguments, environment: ["CLIPCAM_KERNEL": setting])
            #expect(run.status == 0, "\(run.stderr)")
            let object = try #require(
                try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any], "\(run.stdout)")
            #expect(object["cpu_vendor"] as? String == cpu.vendor)
            #expect(object["cpu_family"] as? Int == cpu.family && object["cpu_model"] as? Int == cpu.model)
            #expect(object["cpu_model_name"] as? String == cpu.modelName)
            let kernel = try #require(object["fp32_kernel"] as? String)
            #expect(
                setting.isEmpty ? runnable.contains(kernel) : kernel == setting, "CLIPCAM_KERNEL=\(setting): \(object)")
            #expect(object["fp32_kernels_available"] as? [String] == runnable)
            let reason = try #require(object["kernel_reason"] as? String)
            if setting.isEmpty {
                #expect(!reason.isEmpty && !reason.contains("CLIPCAM_KERNEL"), "\(reason)")
            } else {
                #expect(reason == "forced by CLIPCAM_KERNEL=\(setting)")
            }
        }
    }

    /// --compare-kernels times every kernel this CPU runs, taking turns; without it the fields are null.
    @Test func benchComparesTheKernels() throws {
        let runnable = FloatKernel.available().map(\.rawValue)
        let run = try clipcam(Self.benchArguments + ["--compare-kernels"])
        #expect(run.status == 0, "\(run.stderr)")
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any], "\(run.stdout)")
        let times = try #require(object["fp32_kernels_ms"] as? [String: Double], "\(object)")
        let ratios = try #require(object["fp32_kernels_over_chosen"] as? [String: Double], "\(object)")
        #expect(Set(times.keys) == Set(runnable) && Set(ratios.keys) == Set(runnable))
        #expect(times.values.allSatisfy { $0 > 0 } && ratios.values.allSatisfy { $0 > 0 })
        #expect(ratios.values.contains(1), "the chosen kernel's own ratio is 1: \(ratios)")
        let plain = try clipcam(Self.benchArguments)
        let fields = try #require(
            try JSONSerialization.jsonObject(with: Data(plain.stdout.utf8)) as? [String: Any], "\(plain.stdout)")
        #expect(fields["fp32_kernels_ms"] is NSNull && fields["fp32_kernels_over_chosen"] is NSNull)
    }

    @Test func anUnknownOrUnsupportedKernelIsAnError() throws {
        let runnable = FloatKernel.available().map(\.rawValue).joined(separator: ", ")
        let unknown = try clipcam(Self.benchArguments, environment: ["CLIPCAM_KERNEL": "avx9"])
        #expect(unknown.status != 0)
        #expect(
            unknown.stderr.contains(
                "CLIPCAM_KERNEL=avx9 names no fp32 kernel; the kernels are avx512, avx2, and "
                    + "this CPU runs \(runnable)"), "\(unknown.stderr)")
        for kernel in FloatKernel.allCases {
            guard let reason = kernel.unavailability() else { continue }
            let run = try clipcam(Self.benchArguments, environment: ["CLIPCAM_KERNEL": kernel.rawValue])
            #expect(run.status != 0)
            #expect(
                run.stderr.contains("CLIPCAM_KERNEL=\(kernel.rawValue) cannot run here: \(reason)"), "\(run.stderr)")
        }
    }

    @Test func runLogsTheKernelOnce() throws {
        let run = try clipcam([
            "run", "--model", Repo.model("tiny-quickgelu-f32").path, "--prompt", "a cat", "--source", "synthetic",
            "--headless", "--frames", "2", "--jsonl", "/dev/null", "--threads", "1",
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let lines = run.stderr.split(separator: "\n").filter { $0.contains("fp32 kernel") }
        #expect(lines.count == 1, "\(run.stderr)")
        // The child measures its own choice: its kernel is one this CPU runs, and it says why.
        let line = String(lines.first ?? "")
        let prefix = "clipcam: CPU \(CPUInfo.current.summary); fp32 kernel "
        #expect(line.hasPrefix(prefix), "\(line)")
        let rest = line.dropFirst(prefix.count)
        let name = rest.prefix { $0 != ":" }
        #expect(FloatKernel.available().map(\.rawValue).contains(String(name)), "\(line)")
        #expect(rest.dropFirst(name.count).hasPrefix(": ") && rest.count > name.count + 2, "\(line)")
    }
}
