import Foundation
import Synchronization
import Testing

@testable import Capture

private func frame(_ index: Int) -> Frame {
    Frame(index: index, timestamp: Double(index), width: 1, height: 1, bgr: [UInt8(index % 256), 0, 0])
}

@Suite struct LatestFrameQueueTests {
    @Test func capacityOneKeepsOnlyTheNewestFrame() throws {
        let queue = LatestFrameQueue(capacity: 1)
        for index in 0..<5 { #expect(queue.push(frame(index))) }
        #expect(queue.stats == QueueStats(pushed: 5, popped: 0, dropped: 4, rejected: 0, waiting: 1))
        #expect(try queue.tryPop()?.index == 4)
        #expect(try queue.tryPop() == nil)
        #expect(queue.stats == QueueStats(pushed: 5, popped: 1, dropped: 4, rejected: 0, waiting: 0))
    }

    @Test func capacityTwoKeepsTheTwoNewestInOrder() throws {
        let queue = LatestFrameQueue(capacity: 2)
        for index in 0..<5 { queue.push(frame(index)) }
        #expect(queue.stats.dropped == 3)
        #expect(try queue.pop()?.index == 3)
        #expect(try queue.pop()?.index == 4)
        queue.push(frame(5))
        #expect(try queue.pop()?.index == 5)
        #expect(queue.stats == QueueStats(pushed: 6, popped: 3, dropped: 3, rejected: 0, waiting: 0))
    }

    @Test func noDropsWhileTheConsumerKeepsUp() throws {
        let queue = LatestFrameQueue(capacity: 1)
        for index in 0..<100 {
            queue.push(frame(index))
            #expect(try queue.pop()?.index == index)
        }
        #expect(queue.stats.dropped == 0)
    }

    @Test func closeWakesABlockedConsumer() throws {
        let queue = LatestFrameQueue(capacity: 1)
        let woke = DispatchSemaphore(value: 0)
        let result = Mutex<(Frame?, Double)?>(nil)
        let started = MonotonicClock.now()
        Thread {
            let popped = try? queue.pop()
            result.withLock { $0 = (popped, MonotonicClock.now() - started) }
            woke.signal()
        }.start()
        Thread.sleep(forTimeInterval: 0.1)
        #expect(result.withLock { $0 } == nil, "pop returned before anything was pushed or closed")
        queue.close()
        #expect(woke.wait(timeout: .now() + 2) == .success, "close did not wake the waiting pop")
        let (popped, waited) = try #require(result.withLock { $0 })
        #expect(popped == nil)
        #expect(waited >= 0.1)
        #expect(queue.isFinished)
    }

    @Test func closeDeliversWaitingFramesThenTheError() throws {
        let queue = LatestFrameQueue(capacity: 2)
        queue.push(frame(1))
        queue.push(frame(2))
        queue.close(error: CameraError.unplugged(device: "/dev/video9"))
        #expect(!queue.push(frame(3)))
        #expect(queue.stats.rejected == 1)
        #expect(try queue.pop()?.index == 1)
        #expect(try queue.pop()?.index == 2)
        #expect(throws: CameraError.unplugged(device: "/dev/video9")) { try queue.pop() }
        #expect(throws: CameraError.unplugged(device: "/dev/video9")) { try queue.tryPop() }
    }

    @Test func popWithTimeoutGivesUp() throws {
        let queue = LatestFrameQueue(capacity: 1)
        let start = MonotonicClock.now()
        #expect(try queue.pop(timeout: 0.05) == nil)
        #expect(MonotonicClock.now() - start >= 0.05)
        #expect(!queue.isFinished)
    }

    /// Several producers and one consumer: every pushed frame is either popped or counted as dropped, each
    /// producer's frames come out in order, and no more than `capacity` frames ever wait.
    @Test(arguments: [1, 2])
    func stressAccountsForEveryFrame(capacity: Int) throws {
        let queue = LatestFrameQueue(capacity: capacity)
        let producers = 4
        let perProducer = 5000
        let finished = DispatchSemaphore(value: 0)
        for producer in 0..<producers {
            Thread {
                for serial in 0..<perProducer {
                    queue.push(
                        Frame(
                            index: producer * perProducer + serial, timestamp: 0, width: 1, height: 1,
                            bgr: [UInt8(producer), 0, 0]))
                }
                finished.signal()
            }.start()
        }
        Thread {
            for _ in 0..<producers { finished.wait() }
            queue.close()
        }.start()

        var popped = 0
        var last = [Int](repeating: -1, count: producers)
        var worstWaiting = 0
        var outOfOrder = 0
        while let next = try queue.pop() {
            popped += 1
            let producer = Int(next.bgr[0])
            if next.index <= last[producer] { outOfOrder += 1 }
            last[producer] = next.index
            worstWaiting = max(worstWaiting, queue.stats.waiting)
        }
        let stats = queue.stats
        #expect(stats.pushed == producers * perProducer)
        #expect(stats.popped == popped)
        #expect(stats.pushed == stats.popped + stats.dropped)
        #expect(stats.waiting == 0)
        #expect(stats.rejected == 0)
        #expect(outOfOrder == 0)
        #expect(worstWaiting <= capacity)
        #expect(popped > 0)
    }
}
