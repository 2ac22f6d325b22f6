// The encoder's own threads. A model's products are split across `threads` workers: the calling thread is
// worker 0 and `threads − 1` helper threads wait for work. A helper spins briefly between jobs (the products of
// one encoding follow each other within microseconds), then yields its core at each check (so that on a machine
// with more runnable threads than cores it does not hold a core another thread needs), and after 100 µs sleeps on a
// condition variable, so an idle encoder costs no CPU. The caller, waiting for the helpers to finish a job, also
// yields after a brief spin: a helper it waits for may be one the scheduler took off its core. Jobs are objects made once (PoolTask) and handed over by an unretained reference, so
// that starting one allocates nothing; workers claim a job's items one by one (`claim`), so that a worker held up
// by another thread of the process (capture, display) does not hold the others up. Each worker first claims the
// items of its own contiguous share in order, then helps the others with theirs: so the item a worker works on next
// is, but at the end, the one after its current one, and the AVX-512 kernel's prefetch of the next panel is for
// itself.
import Foundation
import Synchronization

/// Work that every worker of a pool runs at once, each with its own worker index.
protocol PoolTask: AnyObject {
    func run(worker: Int)
}

/// A closure as a task; it allocates, so it is for tests and set-up, not for the encoders' jobs.
private final class ClosureTask: PoolTask {
    let body: (Int) -> Void
    init(_ body: @escaping (Int) -> Void) { self.body = body }
    func run(worker: Int) { body(worker) }
}

final class WorkerPool: @unchecked Sendable {
    /// Workers, the caller included.
    let threads: Int

    private let generation = Atomic<Int>(0)
    /// Items claimed so far of each worker's share of the current job.
    private let claimed: [ShareCounter]
    private let pending = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private var mutex = pthread_mutex_t()
    private var wake = pthread_cond_t()
    /// The job of the current generation; written by the caller before the generation is bumped. Not retained:
    /// `run` does not return before every worker is done with it.
    private unowned(unsafe) var job: PoolTask?
    private var helpers: [pthread_t] = []

    /// Checks (one atomic load each) a waiting thread makes before it starts to yield its core at each check.
    private static let spinsBeforeYielding = 2_000
    /// How long a helper waits for the next job, spinning and then yielding, before it sleeps.
    private static let helperWaitNanoseconds: UInt64 = 100_000

    init(threads: Int) {
        self.threads = max(1, threads)
        claimed = (0..<self.threads).map { _ in ShareCounter() }
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&wake, nil)
        for index in 1..<self.threads {
            let context = Unmanaged.passRetained(HelperContext(pool: self, index: index)).toOpaque()
            var thread = pthread_t()
            let status = pthread_create(
                &thread, nil,
                { raw in
                    let context = Unmanaged<HelperContext>.fromOpaque(raw!).takeRetainedValue()
                    context.pool.helperLoop(index: context.index)
                    return nil
                }, context)
            if status != 0 { fatalError("cannot start an encoder thread: pthread_create failed with error \(status)") }
            helpers.append(thread)
        }
    }

    deinit {
        stopping.store(true, ordering: .sequentiallyConsistent)
        pthread_mutex_lock(&mutex)
        generation.add(1, ordering: .sequentiallyConsistent)
        pthread_cond_broadcast(&wake)
        pthread_mutex_unlock(&mutex)
        for thread in helpers { pthread_join(thread, nil) }
        pthread_cond_destroy(&wake)
        pthread_mutex_destroy(&mutex)
    }

    /// Runs `task.run(worker:)` on every worker in 0..<threads at once and returns when all have finished.
    func run(_ task: PoolTask) {
        for counter in claimed { counter.value.store(0, ordering: .relaxed) }
        if threads == 1 {
            task.run(worker: 0)
            return
        }
        job = task
        pending.store(threads - 1, ordering: .sequentiallyConsistent)
        pthread_mutex_lock(&mutex)
        generation.add(1, ordering: .sequentiallyConsistent)
        pthread_cond_broadcast(&wake)
        pthread_mutex_unlock(&mutex)
        task.run(worker: 0)
        var spins = 0
        while pending.load(ordering: .acquiring) > 0 {
            // A helper still at work was descheduled (the machine has more runnable threads than cores): give it
            // this core rather than spin on it.
            spins += 1
            if spins > Self.spinsBeforeYielding { sched_yield() }
        }
        job = nil
    }

    /// Runs `body(worker)` for every worker at once (allocates: for tests and set-up).
    func run(_ body: (Int) -> Void) {
        withoutActuallyEscaping(body) { escaping in
            let task = ClosureTask(escaping)
            run(task)
        }
    }

    /// Claims the next of a job's `count` items for worker `worker` (nil when none are left): the next of its own
    /// share (items w·count/threads ..< (w + 1)·count/threads, in order), else the next of another worker's share.
    /// Items are handed out one at a time: a panel of a product takes tens of microseconds, so the claims cost
    /// nothing that shows, and the workers finish within one item of each other (with chunks of an eighth of a
    /// share, one worker waited for the other's last chunk; a ViT-B/32 image took 5–10 % longer on two threads).
    /// Every worker of one job must pass the same count.
    func claim(_ count: Int, worker: Int) -> Range<Int>? {
        for step in 0..<threads {
            let owner = (worker + step) % threads
            let first = owner * count / threads
            let item = first + claimed[owner].value.wrappingAdd(1, ordering: .relaxed).oldValue
            if item < (owner + 1) * count / threads { return item..<(item + 1) }
        }
        return nil
    }

    private func helperLoop(index: Int) {
        var seen = 0
        while true {
            var spins = 0
            var yieldingSince: UInt64 = 0
            while generation.load(ordering: .acquiring) == seen {
                spins += 1
                guard spins > Self.spinsBeforeYielding else { continue }
                let now = DispatchTime.now().uptimeNanoseconds
                if yieldingSince == 0 { yieldingSince = now }
                if now - yieldingSince < Self.helperWaitNanoseconds {
                    sched_yield()
                } else {
                    pthread_mutex_lock(&mutex)
                    while generation.load(ordering: .acquiring) == seen {
                        pthread_cond_wait(&wake, &mutex)
                    }
                    pthread_mutex_unlock(&mutex)
                }
            }
            seen = generation.load(ordering: .acquiring)
            if stopping.load(ordering: .acquiring) { return }
            job?.run(worker: index)
            pending.subtract(1, ordering: .releasing)
        }
    }
}

/// The number of items one worker's share has given out.
private final class ShareCounter {
    let value = Atomic<Int>(0)
}

/// What a helper thread is started with. The pool is not retained: its deinit joins the helpers first.
private final class HelperContext {
    unowned(unsafe) let pool: WorkerPool
    let index: Int
    init(pool: WorkerPool, index: Int) {
        self.pool = pool
        self.index = index
    }
}
