import CLIPModel
import CLIPTokenizer
import Foundation
import SafeFiles

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Downloads a CLIP model folder from the Hugging Face hub (`$HF_ENDPOINT`, default https://huggingface.co).
/// Files go into a hidden folder beside the target (`ModelInstaller`); only when every file is complete and the
/// folder checks out as a model (config.json's sizes, every tensor, the tokenizer and its fit to config.json) is it
/// moved into place, so an interrupted or failed fetch never leaves a half-written model behind and never replaces
/// anything but a model folder.
public struct ModelFetcher {
    public var repository: String
    public var revision: String
    public var endpoint: URL
    /// Seconds without any progress before a download is abandoned.
    public var timeout: TimeInterval

    public init(
        repository: String = ModelLocation.defaultRepository, revision: String = "main",
        endpoint: URL? = nil, timeout: TimeInterval = 30
    ) {
        self.repository = repository
        self.revision = revision
        let env = ProcessInfo.processInfo.environment["HF_ENDPOINT"].flatMap { $0.isEmpty ? nil : URL(string: $0) }
        self.endpoint = endpoint ?? env ?? URL(string: "https://huggingface.co")!
        self.timeout = timeout
    }

    public func url(of file: String) -> URL {
        endpoint.appendingPathComponent(repository).appendingPathComponent("resolve")
            .appendingPathComponent(revision).appendingPathComponent(file)
    }

    /// Fetches into `destination`. An existing folder is replaced only with `force`, and only when it holds a
    /// model and nothing else (`ModelInstaller`). Throws `ModelInstallError`, whose messages carry the
    /// `FetchError` of a failed download or check.
    public func fetch(to destination: SystemPath, force: Bool, log: (String) -> Void = { _ in }) throws {
        let installer = try ModelInstaller(destination: destination, force: force)
        try installer.install(log: log) { work in
            for file in ModelLocation.requiredFiles {
                try work.checkInterrupt()
                let source = url(of: file)
                log("fetching \(source.absoluteString)")
                try Download(
                    url: source, to: work.folder.appendingPathComponent(file), timeout: timeout,
                    interrupted: work.isInterrupted
                ).run(label: file)
            }
            try work.checkInterrupt()
            do {
                try ModelLocation.verifyFolder(work.folder)
            } catch {
                throw FetchError.invalid(repository, "\(error)")
            }
        }
    }
}

public enum FetchError: Error, CustomStringConvertible {
    case cannotWrite(URL, String)
    case network(URL, String)
    case http(URL, Int)
    case noSpace(URL, needed: Int64, free: Int64)
    case incomplete(URL, expected: Int64, got: Int64)
    case invalid(String, String)
    case interrupted

    public var description: String {
        switch self {
        case .cannotWrite(let dir, let why):
            return "cannot write in \(dir.path): \(why)"
        case .network(let url, let why):
            return """
                cannot download \(url.absoluteString): \(why).
                clipcam model fetch needs internet access to huggingface.co (or $HF_ENDPOINT). On a machine \
                without it, copy a model folder fetched elsewhere and pass --model, or make a random one with \
                `clipcam model random`.
                """
        case .noSpace(let url, let needed, let free):
            let gb = { (bytes: Int64) in String(format: "%.2f GB", Double(bytes) / 1e9) }
            return "\(url.absoluteString) is \(gb(needed)), but the disk has only \(gb(free)) free; make room or "
                + "fetch into another folder with --out"
        case .http(let url, let status):
            return "downloading \(url.absoluteString) failed: HTTP \(status)"
        case .incomplete(let url, let expected, let got):
            return "the download of \(url.absoluteString) ended early: \(got) of \(expected) bytes"
        case .invalid(let repo, let why):
            return "the files downloaded from \(repo) are not a usable CLIP model: \(why)"
        case .interrupted:
            return "the download was interrupted"
        }
    }
}

/// One file, streamed to disk with a progress bar.
private final class Download: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    private let url: URL
    private let file: URL
    private let timeout: TimeInterval
    private let interrupted: @Sendable () -> Bool
    private let done = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var handle: FileHandle?
    private var received: Int64 = 0
    private var expected: Int64?
    private var failure: Error?
    private var bar: ProgressBar?
    private var label = ""

    /// `interrupted` is asked as data arrives; once it says yes, the download stops with `FetchError.interrupted`.
    init(url: URL, to file: URL, timeout: TimeInterval, interrupted: @escaping @Sendable () -> Bool) {
        self.url = url
        self.file = file
        self.timeout = timeout
        self.interrupted = interrupted
    }

    func run(label: String) throws {
        self.label = label
        guard FileManager.default.createFile(atPath: file.path, contents: nil) else {
            throw FetchError.cannotWrite(file.deletingLastPathComponent(), "cannot create \(file.lastPathComponent)")
        }
        handle = try FileHandle(forWritingTo: file)
        let config = URLSessionConfiguration.ephemeral
        config.timeoutIntervalForRequest = timeout
        let session = URLSession(configuration: config, delegate: self, delegateQueue: nil)
        session.dataTask(with: url).resume()
        done.wait()
        session.finishTasksAndInvalidate()
        try handle?.close()
        lock.lock()
        defer { lock.unlock() }
        if let failure { throw failure }
        if let expected, received != expected {
            throw FetchError.incomplete(url, expected: expected, got: received)
        }
        bar?.finish(received)
    }

    func urlSession(
        _ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
        completionHandler: @escaping @Sendable (URLSession.ResponseDisposition) -> Void
    ) {
        // The decision is made under the lock, the handler called after it: URLSession may call back into this
        // delegate (didCompleteWithError, which takes the lock) from inside a cancel.
        let disposition: URLSession.ResponseDisposition = lock.withLock {
            if let http = response as? HTTPURLResponse, !(200..<300).contains(http.statusCode) {
                failure = FetchError.http(url, http.statusCode)
                return .cancel
            }
            expected = response.expectedContentLength > 0 ? response.expectedContentLength : nil
            // A file larger than the disk's free space would fail after filling it: refuse before the first byte.
            var disk = statvfs()
            if let expected, statvfs(file.deletingLastPathComponent().path, &disk) == 0 {
                let free = Int64(disk.f_bavail) * Int64(disk.f_frsize)
                if expected > free {
                    failure = FetchError.noSpace(url, needed: expected, free: free)
                    return .cancel
                }
            }
            bar = ProgressBar(label: label, total: expected)
            return .allow
        }
        completionHandler(disposition)
        // swift-corelibs-foundation does not always end the task on .cancel while the body still streams in.
        if disposition == .cancel { dataTask.cancel() }
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        let cancel: Bool = lock.withLock {
            guard failure == nil else { return false }
            if interrupted() {
                failure = FetchError.interrupted
                return true
            }
            do {
                try handle?.write(contentsOf: data)
                received += Int64(data.count)
                bar?.update(received)
                return false
            } catch {
                failure = FetchError.cannotWrite(file.deletingLastPathComponent(), error.localizedDescription)
                return true
            }
        }
        // Outside the lock, for the same reason as above.
        if cancel { dataTask.cancel() }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        lock.lock()
        if let error, failure == nil {
            failure = FetchError.network(url, error.localizedDescription)
        }
        lock.unlock()
        done.signal()
    }
}
