import Capture
import Foundation
import Synchronization
import Testing

/// Capture and display lower their own threads' priority, and only their own.
@Suite struct ThreadPriorityTests {
    @Test func loweringAffectsTheCallingThreadOnly() {
        let before = ThreadPriority.currentNice
        let result = Mutex<(lowered: Bool, inside: Int32, start: Int32)?>(nil)
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            let start = ThreadPriority.currentNice
            let lowered = ThreadPriority.lowerCurrentThread()
            result.withLock { $0 = (lowered, ThreadPriority.currentNice, start) }
            done.signal()
        }
        thread.start()
        done.wait()
        let seen = result.withLock { $0 }
        #expect(seen?.lowered == true)
        if let seen {
            #expect(seen.inside == min(19, seen.start + ThreadPriority.deferToEncoder), "nice \(seen.inside)")
        }
        #expect(ThreadPriority.currentNice == before, "the test's own thread changed")
    }
}
