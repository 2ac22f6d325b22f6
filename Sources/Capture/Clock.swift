import Glibc

/// Seconds on `CLOCK_MONOTONIC`: never jumps with wall-clock changes, so it paces frames and measures rates.
public enum MonotonicClock {
    public static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}

/// The text of an `errno` value, e.g. "No such device".
func errnoText(_ code: Int32) -> String {
    String(cString: strerror(code))
}

/// Delivers frames on a fixed schedule: frame k is due `k / fps` seconds after the first. A source that falls
/// more than a second behind starts a new schedule instead of bursting to catch up.
struct FramePacer {
    let interval: Double
    private var origin: Double?
    private var count = 0

    init(fps: Double) {
        precondition(fps > 0, "frame rate must be positive")
        interval = 1 / fps
    }

    /// Waits until the next frame is due. Returns false if `signal` was raised while waiting.
    mutating func waitForNextFrame(_ signal: StopSignal) -> Bool {
        let now = MonotonicClock.now()
        guard let start = origin else {
            origin = now
            count = 1
            return !signal.isRaised
        }
        var due = start + Double(count) * interval
        if now - due > 1 {
            origin = now
            count = 0
            due = now
        }
        count += 1
        return !signal.wait(seconds: due - now)
    }
}
