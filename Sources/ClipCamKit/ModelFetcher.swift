import CLIPModel
import CLIPTokenizer
import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Downloads a CLIP model folder from the Hugging Face hub (`$HF_ENDPOINT`, default https://huggingface.co).
/// Files go into a temporary folder beside the target; only when every file is complete and the model
/// loads (every tensor and the tokenizer checked) is the folder renamed into place, so an interrupted or
/// failed fetch never leaves a half-written model behind.
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

    /// Fetches into `destination`. An existing complete folder is replaced only with `force`.
    public func fetch(to destination: URL, force: Bool, log: (String) -> Void = { _ in }) throws {
        let fm = FileManager.default
        if fm.fileExists(atPath: destination.path) && !force {
            throw FetchError.exists(destination)
        }
        let parent = destination.deletingLastPathComponent()
        do {
            try fm.createDirectory(at: parent, withIntermediateDirectories: true)
        } catch {
            throw FetchError.cannotWrite(parent, error.localizedDescription)
        }
        let staging = parent.appendingPathComponent(".\(destination.lastPathComponent).partial-\(getpid())")
        try? fm.removeItem(at: staging)
        do {
            try fm.createDirectory(at: staging, withIntermediateDirectories: false)
        } catch {
            throw FetchError.cannotWrite(parent, error.localizedDescription)
        }
        defer { try? fm.removeItem(at: staging) }

        for file in ModelLocation.requiredFiles {
            let source = url(of: file)
            log("fetching \(source.absoluteString)")
            try Download(url: source, to: staging.appendingPathComponent(file), timeout: timeout).run(label: file)
        }
        do {
            _ = try CLIPModel(directory: staging)
            _ = try CLIPTokenizer(directory: staging)
        } catch {
            throw FetchError.invalid(repository, "\(error)")
        }
        if fm.fileExists(atPath: destination.path) {
            let old = parent.appendingPathComponent(".\(destination.lastPathComponent).old-\(getpid())")
            try fm.moveItem(at: destination, to: old)
            try fm.moveItem(at: staging, to: destination)
            try? fm.removeItem(at: old)
        } else {
            try fm.moveItem(at: staging, to: destination)
        }
    }
}

public enum FetchError: Error, CustomStringConvertible {
    case exists(URL)
    case cannotWrite(URL, String)
    case network(URL, String)
    case http(URL, Int)
    case incomplete(URL, expected: Int64, got: Int64)
    case invalid(String, String)

    public var description: String {
        switch self {
        case .exists(let dir):
            return "\(dir.path) already exists; pass --force to download it again"
        case .cannotWrite(let dir, let why):
            return "cannot write in \(dir.path): \(why)"
        case .network(let url, let why):
            return """
                cannot download \(url.absoluteString): \(why).
                clipcam model fetch needs internet access to huggingface.co (or $HF_ENDPOINT). On a machine \
                without it, copy a model folder fetched elsewhere and pass --model, or make a random one with \
                `clipcam model random`.
                """
        case .http(let url, let status):
            return "downloading \(url.absoluteString) failed: HTTP \(status)"
        case .incomplete(let url, let expected, let got):
            return "the download of \(url.absoluteString) ended early: \(got) of \(expected) bytes"
        case .invalid(let repo, let why):
            return "the files downloaded from \(repo) are not a usable CLIP model: \(why)"
        }
    }
}

/// One file, streamed to disk with a progress bar.
private final class Download: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    private let url: URL
    private let file: URL
    private let timeout: TimeInterval
    private let done = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var handle: FileHandle?
    private var received: Int64 = 0
    private var expected: Int64?
    private var failure: Error?
    private var bar: ProgressBar?
    private var label = ""

    init(url: URL, to file: URL, timeout: TimeInterval) {
        self.url = url
        self.file = file
        self.timeout = timeout
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
        lock.lock()
        defer { lock.unlock() }
        if let http = response as? HTTPURLResponse, !(200..<300).contains(http.statusCode) {
            failure = FetchError.http(url, http.statusCode)
            completionHandler(.cancel)
            return
        }
        expected = response.expectedContentLength > 0 ? response.expectedContentLength : nil
        bar = ProgressBar(label: label, total: expected)
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        lock.lock()
        defer { lock.unlock() }
        guard failure == nil else { return }
        do {
            try handle?.write(contentsOf: data)
            received += Int64(data.count)
            bar?.update(received)
        } catch {
            failure = FetchError.cannotWrite(file.deletingLastPathComponent(), error.localizedDescription)
            dataTask.cancel()
        }
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
