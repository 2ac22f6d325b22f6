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
        #expect(ratios[object["fp32_kernel"] as? String ?? ""] == 1, "the kernel in use has ratio 1: \(object)")
        // Forced, the ratios are to the forced kernel: the figures all describe the kernel in use.
        for kernel in runnable {
            let forced = try clipcam(
                Self.benchArguments + ["--compare-kernels"], environment: ["CLIPCAM_KERNEL": kernel])
            let report = try #require(
                try JSONSerialization.jsonObject(with: Data(forced.stdout.utf8)) as? [String: Any], "\(forced.stderr)")
            #expect((report["fp32_kernels_over_chosen"] as? [String: Double])?[kernel] == 1, "\(report)")
        }
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

    /// CLIPCAM_INT8_KERNEL is checked whatever the precision, as CLIPCAM_KERNEL is: a misspelt value is never
    /// silently ignored.
    @Test(arguments: ["fp32", "int16", "int8"])
    func aBadIntegerKernelIsAnErrorAtEveryPrecision(precision: String) throws {
        let run = try clipcam(
            ["embed-image", "--model", Repo.model("tiny-quickgelu-f32").path, "--precision", precision]
                + [Repo.images.appendingPathComponent("checker-224x224.png").path],
            environment: ["CLIPCAM_INT8_KERNEL": "bogus"])
        #expect(run.status == 1)
        #expect(run.stdout.isEmpty)
        #expect(run.stderr.contains("CLIPCAM_INT8_KERNEL=bogus names no int8 kernel"), "\(run.stderr)")
    }

    /// With an integer precision, run's log line also names the integer kernel and why.
    @Test(arguments: ["int16", "int8"])
    func runLogsTheIntegerKernel(precision: String) throws {
        let run = try clipcam(
            [
                "run", "--model", Repo.model("tiny-quickgelu-f32").path, "--prompt", "a cat", "--source", "synthetic",
                "--headless", "--frames", "1", "--jsonl", "/dev/null", "--threads", "1", "--precision", precision,
            ], environment: ["CLIPCAM_INT8_KERNEL": "avx2"])
        #expect(run.status == 0, "\(run.stderr)")
        let line = run.stderr.split(separator: "\n").first { $0.contains("fp32 kernel") } ?? ""
        #expect(line.hasSuffix("; \(precision) kernel avx2: forced by CLIPCAM_INT8_KERNEL=avx2"), "\(run.stderr)")
    }

    /// embed-text encodes text alone, always in fp32: an integer --precision is ignored with a warning and the
    /// embedding is fp32's, byte for byte.
    @Test func embedTextIgnoresThePrecision() throws {
        let arguments = ["embed-text", "--model", Repo.model("tiny-quickgelu-f32").path, "a photo of a cat"]
        let fp32 = try clipcam(arguments)
        let int8 = try clipcam(arguments + ["--precision", "int8"], environment: ["CLIPCAM_INT8_KERNEL": "avx2"])
        #expect(fp32.status == 0 && int8.status == 0, "\(int8.stderr)")
        #expect(int8.stdout == fp32.stdout && !fp32.stdout.isEmpty)
        #expect(
            int8.stderr.contains("warning: --precision int8 does nothing for text: the text encoder is always fp32"),
            "\(int8.stderr)")
        #expect(!int8.stderr.contains("no faster than"), "no int8 kernel warning for text: \(int8.stderr)")
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
