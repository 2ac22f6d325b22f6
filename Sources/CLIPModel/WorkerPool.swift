// The encoder's own threads. A model's products are split across `threads` workers: the calling thread is
// worker 0 and `threads − 1` helper threads wait for work. A helper spins briefly between jobs (the products of
// one encoding follow each other within microseconds) and then sleeps on a condition variable, so an idle
// encoder costs no CPU.
import Foundation
import Synchronization

final class WorkerPool: @unchecked Sendable {
    /// Workers, the caller included.
    let threads: Int

    private let generation = Atomic<Int>(0)
    private let pending = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private var mutex = pthread_mutex_t()
    private var wake = pthread_cond_t()
    /// The job of the current generation; written by the caller before the generation is bumped.
    private var job: ((Int) -> Void)?
    private var helpers: [pthread_t] = []

    /// Spins of a helper before it sleeps; about 50 µs.
    private static let spinLimit = 100_000

    init(threads: Int) {
        self.threads = max(1, threads)
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

    /// Runs `body(worker)` for every worker in 0..<threads at once and returns when all have finished.
    func run(_ body: (Int) -> Void) {
        if threads == 1 {
            body(0)
            return
        }
        withoutActuallyEscaping(body) { escaping in
            job = escaping
            pending.store(threads - 1, ordering: .sequentiallyConsistent)
            pthread_mutex_lock(&mutex)
            generation.add(1, ordering: .sequentiallyConsistent)
            pthread_cond_broadcast(&wake)
            pthread_mutex_unlock(&mutex)
            escaping(0)
            while pending.load(ordering: .acquiring) > 0 {}
            job = nil
        }
    }

    /// The part of `count` items that `worker` takes: contiguous ranges differing in size by at most one.
    func share(of count: Int, worker: Int) -> Range<Int> {
        let base = count / threads
        let extra = count % threads
        let start = worker * base + min(worker, extra)
        return start..<(start + base + (worker < extra ? 1 : 0))
    }

    private func helperLoop(index: Int) {
        var seen = 0
        while true {
            var spins = 0
            while generation.load(ordering: .acquiring) == seen {
                spins += 1
                if spins >= Self.spinLimit {
                    pthread_mutex_lock(&mutex)
                    while generation.load(ordering: .acquiring) == seen {
                        pthread_cond_wait(&wake, &mutex)
                    }
                    pthread_mutex_unlock(&mutex)
                }
            }
            seen = generation.load(ordering: .acquiring)
            if stopping.load(ordering: .acquiring) { return }
            job?(index)
            pending.subtract(1, ordering: .releasing)
        }
    }
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
