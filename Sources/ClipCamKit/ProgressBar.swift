import Foundation
import SafeFiles

/// A one-line progress bar on standard error. On a terminal it redraws in place; otherwise (a log, a pipe)
/// it prints a line at every tenth of the way so logs stay short. It counts bytes (a download) or frames (an
/// analysis: frames, frames per second and the time left).
public final class ProgressBar {
    public enum Unit: Sendable {
        case bytes, frames
    }

    private let label: String
    private let unit: Unit
    private var total: Int64?
    private let isTerminal = isatty(STDERR_FILENO) == 1
    private let start = Date()
    private var lastDraw = Date.distantPast
    private var lastTenth = -1
    private var finished = false

    public init(label: String, total: Int64?, unit: Unit = .bytes) {
        self.label = label
        self.total = total
        self.unit = unit
    }

    /// Changes the expected total (an estimate that turned out short).
    public func setTotal(_ total: Int64?) {
        self.total = total
    }

    public func update(_ done: Int64) {
        if isTerminal {
            let now = Date()
            guard now.timeIntervalSince(lastDraw) >= 0.1 || done == total else { return }
            lastDraw = now
            StandardError.write("\r\u{1B}[K" + line(done))
        } else if let total, total > 0 {
            let tenth = Int(done * 10 / total)
            if tenth > lastTenth {
                lastTenth = tenth
                StandardError.write(line(done) + "\n")
            }
        }
    }

    public func finish(_ done: Int64) {
        guard !finished else { return }
        finished = true
        if isTerminal {
            StandardError.write("\r\u{1B}[K" + line(done) + "\n")
        } else if lastTenth < 10 {
            StandardError.write(line(done) + "\n")
        }
    }

    func line(_ done: Int64) -> String {
        let elapsed = max(Date().timeIntervalSince(start), 1e-3)
        let rate = Double(done) / elapsed
        if unit == .frames { return frameLine(done, rate: rate) }
        let amount = ProgressBar.bytes(done)
        guard let total, total > 0 else {
            return "\(label) \(amount) \(ProgressBar.bytes(Int64(rate)))/s"
        }
        let fraction = min(Double(done) / Double(total), 1)
        let width = 30
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        let percent = String(format: "%3d%%", Int(fraction * 100))
        return "\(label) [\(bar)] \(percent) \(amount)/\(ProgressBar.bytes(total)) \(ProgressBar.bytes(Int64(rate)))/s"
    }

    /// "label [####------]  40% 120/300 frames 24.1 fps ETA 0:07"
    private func frameLine(_ done: Int64, rate: Double) -> String {
        let speed = String(format: "%.1f fps", rate)
        guard let total, total > 0 else { return "\(label) \(done) frames \(speed)" }
        let fraction = min(Double(done) / Double(total), 1)
        let width = 30
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        let percent = String(format: "%3d%%", Int(fraction * 100))
        let left = rate > 0 ? Double(max(total - done, 0)) / rate : 0
        return "\(label) [\(bar)] \(percent) \(done)/\(total) frames \(speed) ETA \(ProgressBar.duration(left))"
    }

    /// "1:05", "1:02:05".
    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600
            ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }

    static func bytes(_ n: Int64) -> String {
        let value = Double(n)
        if value >= 1e9 { return String(format: "%.2f GB", value / 1e9) }
        if value >= 1e6 { return String(format: "%.1f MB", value / 1e6) }
        if value >= 1e3 { return String(format: "%.1f kB", value / 1e3) }
        return "\(n) B"
    }
}
