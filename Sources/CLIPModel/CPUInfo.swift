// The CPU clipcam runs on, as Linux describes it in /proc/cpuinfo (its first processor): vendor, family and model
// (decimal, as the kernel prints them; AMD's family 25 is Zen 3 and Zen 4, 26 is Zen 5), the model name, and the
// instruction-set extensions the OS has enabled. The kernels choose from it at run time (FloatKernel; the int8
// path's QuantizedKernel reads the same flags).
import Foundation

/// One CPU's identity and instruction-set extensions.
public struct CPUInfo: Sendable, Equatable {
    /// `vendor_id`: "AuthenticAMD", "GenuineIntel", … ("unknown" when not listed).
    public var vendor: String
    /// `cpu family`, or nil when not listed (other architectures).
    public var family: Int?
    /// `model`, or nil when not listed.
    public var model: Int?
    /// `model name`, e.g. "AMD EPYC" ("unknown" when not listed).
    public var modelName: String
    /// The `flags` line's extensions, e.g. "avx2", "fma", "avx512f".
    public var flags: Set<String>

    public init(vendor: String, family: Int?, model: Int?, modelName: String, flags: Set<String>) {
        self.vendor = vendor
        self.family = family
        self.model = model
        self.modelName = modelName
        self.flags = flags
    }

    /// This machine (read once; an unknown CPU without flags where `/proc/cpuinfo` cannot be read).
    public static let current = CPUInfo(cpuinfo: try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))

    /// The first processor of a `/proc/cpuinfo` text (the fields of the lines before the first blank line).
    public init(cpuinfo: String?) {
        var fields: [String: String] = [:]
        for line in (cpuinfo ?? "").split(separator: "\n", omittingEmptySubsequences: false) {
            if line.allSatisfy(\.isWhitespace) {
                if !fields.isEmpty { break }
                continue
            }
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if fields[key] == nil { fields[key] = value }
        }
        self.init(
            vendor: fields["vendor_id"] ?? "unknown", family: fields["cpu family"].flatMap { Int($0) },
            model: fields["model"].flatMap { Int($0) }, modelName: fields["model name"] ?? "unknown",
            flags: Set((fields["flags"] ?? "").split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)))
    }

    /// Those of `required` that the CPU does not list, in order.
    public func missing(_ required: [String]) -> [String] { required.filter { !flags.contains($0) } }

    /// "AuthenticAMD family 26 model 2 (AMD EPYC)".
    public var summary: String {
        let numbers = [family.map { "family \($0)" }, model.map { "model \($0)" }].compactMap { $0 }
        return ([vendor] + numbers).joined(separator: " ") + " (\(modelName))"
    }
}
