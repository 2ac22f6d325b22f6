import Glibc

/// The scheduling priority of the calling thread. On two cores the encoder's threads are the ones whose delay the
/// user sees (scores late, frames dropped); capture and display need a few milliseconds a frame and can wait for
/// them. So those two threads lower their own priority (raise their nice value); raising it never needs
/// privileges. On Linux the nice value belongs to each thread, and `who` 0 names the calling one.
public enum ThreadPriority {
    /// How much capture and display defer to the encoder (nice +5: about a third of the encoder's weight).
    public static let deferToEncoder: Int32 = 5

    /// Raises the calling thread's nice value by `steps`. Returns false when the system refused.
    @discardableResult
    public static func lowerCurrentThread(by steps: Int32 = deferToEncoder) -> Bool {
        errno = 0
        let current = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
        if current == -1 && errno != 0 { return false }
        return setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, min(19, current + steps)) == 0
    }

    /// Sets the calling thread's nice value back (best effort: lowering it needs privileges or RLIMIT_NICE).
    public static func set(_ nice: Int32) {
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, nice)
    }

    /// The calling thread's nice value.
    public static var currentNice: Int32 {
        getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
    }
}
