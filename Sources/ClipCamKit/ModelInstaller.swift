// Putting a model folder where the user asked (`clipcam model fetch`, `clipcam model random`) without ever losing
// what was there or showing half a model: the folder is written and checked out of sight (StagingFolder), then moved
// into place in one step. Without --force that step fails if anything appeared at the destination meanwhile, so of
// two runs writing the same folder exactly one succeeds. With --force an existing folder is replaced only when it
// holds a model and nothing else (`replaceableNames`); it is swapped with the new one in one step, checked again,
// and only then are its files removed, one by name. The current folder, its ancestors, the home folder, its ancestors
// and the root are never written to.
import CLIPModel
import Foundation
import Glibc
import SafeFiles
import Synchronization

/// Why a model folder was not put in place; each names the destination as the user gave it.
public enum ModelInstallError: Error, CustomStringConvertible, Equatable {
    case protectedFolder(path: String, reason: String)
    case exists(path: String)
    case notAFolder(path: String, kind: String)
    case notAModelFolder(path: String, unexpected: [String], holdsModelFile: Bool)
    case changedMeanwhile(path: String, unexpected: [String])
    case interrupted(path: String)
    /// Writing or checking the new folder failed; `message` names the files as they would have been at `path`.
    case failed(path: String, message: String)

    public var description: String {
        switch self {
        case .protectedFolder(let path, let reason):
            return "refusing to write a model to \(path): it is \(reason). Give a new folder for the model, "
                + "e.g. --out \(path == "/" ? "" : path)/clip-model"
        case .exists(let path):
            return "\(path) already exists; pass --force to replace it (only a folder holding a model and "
                + "nothing else is ever replaced)"
        case .notAFolder(let path, let kind):
            return "refusing to replace \(path): it is \(kind), not a model folder; choose another --out"
        case .notAModelFolder(let path, let unexpected, let holdsModelFile):
            let listed = ModelInstaller.list(unexpected)
            let what =
                holdsModelFile
                ? "it holds \(listed), which \(unexpected.count == 1 ? "is" : "are") not part of a model folder"
                : "it holds \(listed) but none of config.json, model.safetensors, vocab.json, merges.txt"
            return "refusing to replace \(path): \(what). --force replaces only a folder holding a CLIP model ("
                + ModelInstaller.replaceableNames.sorted().joined(separator: ", ")
                + "). Move those files away or choose another --out; nothing was changed."
        case .changedMeanwhile(let path, let unexpected):
            return "\(path) changed while the new model was being put in place (it now holds "
                + "\(ModelInstaller.list(unexpected))); it was left as it was and the new model was discarded"
        case .interrupted(let path):
            return "interrupted; \(path) was left as it was"
        case .failed(_, let message):
            return message
        }
    }
}

/// Set from the signal queue, read by the writing thread.
private final class InterruptFlag: Sendable {
    let value = Atomic<Bool>(false)
    /// The signal that arrived (SIGINT, SIGTERM); 0 before one did.
    let signal = Atomic<Int32>(0)
}

/// Writes a model folder into place; see the file's opening comment.
public final class ModelInstaller {
    /// The files a model folder may hold for `--force` to replace it: the four clipcam reads and writes, and the
    /// small files a Hugging Face CLIP repository (openai/clip-vit-base-patch32 and its kin) holds beside them,
    /// which describe the same model and come along when it is downloaded or cloned. Left out on purpose: the
    /// weights in other formats (pytorch_model.bin, tf_model.h5, flax_model.msgpack), which clipcam never writes
    /// and which are hundreds of megabytes to download again, and any folder (.git, .cache): a folder holding
    /// those was not made by clipcam, and replacing it would lose them.
    public static let replaceableNames: Set<String> = Set(ModelLocation.requiredFiles).union([
        "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
        "preprocessor_config.json", "README.md", ".gitattributes",
    ])

    /// What an existing destination holds.
    enum Existing: Equatable {
        case nothing
        /// A folder of replaceable files (possibly none).
        case modelFolder(names: [String])
    }

    /// The folder to write, as given.
    public let destination: SystemPath
    public let force: Bool
    private let interrupted = InterruptFlag()

    /// The signal that interrupted `install` (SIGINT or SIGTERM), if one did: the command's exit status is then
    /// 128 + it, as shells expect.
    public var interruptingSignal: Int32? {
        let number = interrupted.signal.load(ordering: .acquiring)
        return number == 0 ? nil : number
    }

    /// Checks the destination before anything is written: never the root, the home folder, the current folder or
    /// a folder holding one of them; an existing destination only with `force`, and only a folder that holds a
    /// model and nothing else. Throws `ModelInstallError`.
    public init(destination: SystemPath, force: Bool) throws {
        self.destination = destination
        self.force = force
        try Self.refuseProtected(destination)
        switch try Self.inspect(destination) {
        case .nothing: break
        case .modelFolder: if !force { throw ModelInstallError.exists(path: destination.description) }
        }
    }

    /// A folder being written: files go into `folder`; messages should name them in `shownAs` instead.
    public struct Work {
        public let folder: URL
        public let shownAs: String
        fileprivate let installer: ModelInstaller

        /// Whether Ctrl-C or SIGTERM has arrived; may be called from any thread.
        public var isInterrupted: @Sendable () -> Bool {
            let flag = installer.interrupted
            return { flag.value.load(ordering: .acquiring) }
        }

        /// Throws `ModelInstallError.interrupted` once Ctrl-C (SIGINT) or SIGTERM has arrived; call it often.
        public func checkInterrupt() throws {
            if installer.interrupted.value.load(ordering: .acquiring) {
                throw ModelInstallError.interrupted(path: installer.destination.description)
            }
        }
    }

    /// Makes a hidden folder beside the destination, lets `write` fill it, checks that it loads as a model
    /// (`ModelLocation.verifyFolder`), and moves it into place: `publish` (nothing there) or, with `force`, an
    /// exchange with the existing model folder, whose files are then removed. On any failure, and on Ctrl-C or
    /// SIGTERM (turned into `ModelInstallError.interrupted` at the next `checkInterrupt`), the hidden folder is
    /// removed and the destination left as it was. `log` receives warnings.
    public func install(log: (String) -> Void = { _ in }, write: (Work) throws -> Void) throws {
        let watcher = InterruptWatcher { [interrupted] number in
            interrupted.signal.store(number, ordering: .releasing)
            interrupted.value.store(true, ordering: .releasing)
        }
        defer { watcher.cancel() }
        let staging = try StagingFolder(beside: destination)
        let work = Work(folder: staging.url, shownAs: destination.description, installer: self)
        do {
            try write(work)
            try work.checkInterrupt()
            try ModelLocation.verifyFolder(staging.url)
            try work.checkInterrupt()
        } catch let error as ModelInstallError {
            throw error
        } catch {
            if work.isInterrupted() { throw ModelInstallError.interrupted(path: destination.description) }
            throw ModelInstallError.failed(path: destination.description, message: staging.message(for: error))
        }
        try commit(staging, log: log)
    }

    private func commit(_ staging: StagingFolder, log: (String) -> Void) throws {
        // Without --force, or when nothing is there now, the rename itself is the check: it fails if anything
        // appeared at the destination since `init` looked, so of two runs racing for it exactly one wins.
        if try !force || Self.inspect(destination) == .nothing {
            try staging.publish()
            return
        }
        try staging.exchange()
        // The old folder is now at the hidden name. Whatever was added to it since `init` looked is kept.
        let old = Self.entries(of: staging.path)
        let unexpected = old.filter { !Self.isReplaceable($0, in: staging.path) }.map {
            Self.shown($0, in: staging.path)
        }
        guard unexpected.isEmpty else {
            do {
                try staging.exchange()
            } catch {
                staging.keep()
                throw ModelInstallError.failed(
                    path: destination.description,
                    message: "\(destination) changed while the new model was being put in place, and swapping "
                        + "the old folder back failed (\(error)); the old folder is now at \(staging.url.path)")
            }
            throw ModelInstallError.changedMeanwhile(path: destination.description, unexpected: unexpected)
        }
        for name in old {
            _ = staging.path.appending(name).withCString { unlink($0) }
        }
        if staging.path.withCString({ rmdir($0) }) != 0 {
            staging.keep()
            log(
                "warning: the replaced copy of \(destination) could not be removed completely "
                    + "(\(String(cString: strerror(errno)))); it is in \(staging.url.path)")
        } else {
            staging.keep()  // nothing is left to remove
        }
    }

    // MARK: - Checks of the destination

    private static func refuseProtected(_ destination: SystemPath) throws {
        guard let target = realPath(destination) else { return }  // nothing there yet: it holds nothing
        func refuse(_ reason: String) -> ModelInstallError {
            .protectedFolder(path: destination.description, reason: reason)
        }
        if target == [UInt8(ascii: "/")] { throw refuse("the root folder") }
        func holds(_ inner: [UInt8]) -> Bool {
            inner == target || inner.starts(with: target + [UInt8(ascii: "/")])
        }
        if let current = realPath(SystemPath(bytes: Array(".".utf8))), holds(current) {
            throw refuse(current == target ? "the current folder" : "a folder holding the current folder")
        }
        let home = ProcessInfo.processInfo.environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        if let homePath = realPath(SystemPath(home)), holds(homePath) {
            throw refuse(homePath == target ? "your home folder" : "a folder holding your home folder")
        }
    }

    /// What is at `path`: nothing, or a folder of replaceable files; anything else throws.
    static func inspect(_ path: SystemPath) throws -> Existing {
        var status = stat()
        guard path.withCString({ lstat($0, &status) }) == 0 else { return .nothing }
        if (status.st_mode & S_IFMT) == S_IFLNK {
            throw ModelInstallError.notAFolder(path: path.description, kind: "a symbolic link")
        }
        let kind = FileKind.of(path)  // not a link, so the same file lstat saw
        guard kind == .directory else { throw ModelInstallError.notAFolder(path: path.description, kind: kind.noun) }
        let names = entries(of: path)
        let unexpected = names.filter { !isReplaceable($0, in: path) }
        let holdsModelFile = names.contains { ModelLocation.requiredFiles.contains(shown($0, in: path)) }
        guard unexpected.isEmpty, names.isEmpty || holdsModelFile else {
            throw ModelInstallError.notAModelFolder(
                path: path.description,
                unexpected: (unexpected.isEmpty ? names : unexpected).map { shown($0, in: path) },
                holdsModelFile: holdsModelFile)
        }
        return .modelFolder(names: names.map { shown($0, in: path) })
    }

    /// A regular file (not a link, not a folder) whose name is one of `replaceableNames`.
    private static func isReplaceable(_ name: [UInt8], in folder: SystemPath) -> Bool {
        guard let text = String(validating: name, as: UTF8.self), replaceableNames.contains(text) else { return false }
        var status = stat()
        return folder.appending(name).withCString { lstat($0, &status) } == 0 && (status.st_mode & S_IFMT) == S_IFREG
    }

    /// The names in a folder (bytes, sorted, without . and ..); empty when it cannot be read.
    static func entries(of folder: SystemPath) -> [[UInt8]] {
        guard let directory = folder.withCString({ opendir($0) }) else { return [] }
        defer { closedir(directory) }
        var names: [[UInt8]] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                Array(raw.prefix { $0 != 0 })
            }
            if name != Array(".".utf8) && name != Array("..".utf8) { names.append(name) }
        }
        return names.sorted { $0.lexicographicallyPrecedes($1) }
    }

    /// A name in `folder` for messages: a folder's ends in "/", a symbolic link's in "@" (as `ls -F` shows them).
    private static func shown(_ name: [UInt8], in folder: SystemPath) -> String {
        var status = stat()
        let text = SystemPath(bytes: name).description
        guard folder.appending(name).withCString({ lstat($0, &status) }) == 0 else { return text }
        switch status.st_mode & S_IFMT {
        case S_IFDIR: return text + "/"
        case S_IFLNK: return text + "@"
        default: return text
        }
    }

    static func list(_ names: [String]) -> String {
        let first = names.prefix(8).joined(separator: ", ")
        return names.count > 8 ? first + " and \(names.count - 8) more" : first
    }

    private static func realPath(_ path: SystemPath) -> [UInt8]? {
        guard let resolved = path.withCString({ realpath($0, nil) }) else { return nil }
        defer { free(resolved) }
        return Array(UnsafeRawBufferPointer(start: resolved, count: strlen(resolved)))
    }
}
