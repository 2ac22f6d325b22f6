import Classifier
import Foundation
import Glibc
import SafeFiles
import Testing

@testable import CLIPModel
@testable import Capture

// Image files in every colour type, depth and transparency form of PNG, JPEG, GIF, BMP, TIFF and WebP, decoded as
// the reference decodes them: Pillow's RGB after transformers' convert_to_rgb (rgb.<name>) and CLIPModel's image
// embeddings of CLIPImageProcessorPil's pixels (image_embeds.<model>), written by
// scripts/fixtures/gen_image_variants.py, as are the damaged files Pillow refuses.

private let regenerate = "run `python3 scripts/fixtures/gen_image_variants.py`"
private let variantsFolder = Fixtures.root.appendingPathComponent("images").appendingPathComponent("variants")

/// One entry of image-variants.json.
struct ImageVariant: Sendable, CustomTestStringConvertible {
    let name: String
    let file: String
    /// Pillow's mode, for a file Pillow reads.
    let mode: String?
    /// Row of image_embeds.<model>.
    let embedding: Int?
    /// For a file Pillow refuses: the kind of refusal ("truncated", "tooManyPixels", "unsupported",
    /// "unknownFormat") and Pillow's message.
    let expect: String?
    let refused: String?

    var testDescription: String { file }
    var url: URL { variantsFolder.appendingPathComponent(file) }

    /// The lossy formats, whose pixels depend on the decoder library's version as well as its settings.
    var isLossy: Bool {
        name.hasPrefix("jpeg") || name == "tiff-rgb-jpeg" || (name.hasPrefix("webp") && !name.contains("lossless"))
    }

    /// Every entry of the listing, or one entry whose test fails saying what to run.
    static let all: [ImageVariant] = {
        let url = Fixtures.reference.appendingPathComponent("image-variants.json")
        guard let data = FileManager.default.contents(atPath: url.path),
            let document = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let entries = document["variants"] as? [[String: Any]]
        else {
            return [
                ImageVariant(
                    name: "missing", file: "image-variants.json", mode: nil, embedding: nil, expect: nil,
                    refused: nil)
            ]
        }
        return entries.map {
            ImageVariant(
                name: $0["name"] as? String ?? "?", file: $0["file"] as? String ?? "?", mode: $0["mode"] as? String,
                embedding: $0["embedding"] as? Int, expect: $0["expect"] as? String, refused: $0["refused"] as? String)
        }
    }()

    static var decodable: [ImageVariant] { all.filter { $0.expect == nil } }
    static var refusedByPillow: [ImageVariant] { all.filter { $0.expect != nil || $0.name == "missing" } }
}

/// The committed reference tensors.
private func referenceFile() throws -> SafeTensorsFile {
    let url = Fixtures.reference.appendingPathComponent("image-variants.safetensors")
    try #require(FileManager.default.fileExists(atPath: url.path), "\(url.path) is missing: \(regenerate)")
    return try SafeTensorsFile(url: url)
}

private func requireListed(_ variant: ImageVariant) throws {
    try #require(variant.name != "missing", "image-variants.json is missing or unreadable: \(regenerate)")
    try #require(
        FileManager.default.fileExists(atPath: variant.url.path), "\(variant.url.path) is missing: \(regenerate)")
}

/// Pillow's RGB bytes for the variant.
private func pillowRGB(_ variant: ImageVariant, in file: SafeTensorsFile) throws -> (pixels: [UInt8], shape: [Int]) {
    let info = try file.info("rgb.\(variant.name)")
    try #require(info.dtype == .u8 && info.shape.count == 3 && info.shape[2] == 3, "rgb.\(variant.name): \(info)")
    return (Array(file.bytes(of: info)), info.shape)
}

@Suite("Image files decoded as the reference decodes them")
struct ImageVariantTests {
    @Test("decoded RGB equals Pillow's", arguments: ImageVariant.decodable)
    func decodedPixelsEqualPillow(_ variant: ImageVariant) throws {
        try requireListed(variant)
        let reference = try pillowRGB(variant, in: try referenceFile())
        let decoded = try ImageFile.loadRGB(SystemPath(variant.url.path))
        #expect([decoded.height, decoded.width, 3] == reference.shape, "\(variant.file): size")
        guard decoded.pixels.count == reference.pixels.count else { return }
        let differences = zip(decoded.pixels, reference.pixels).map { abs(Int($0) - Int($1)) }
        let worst = differences.max() ?? 0
        let differing = differences.filter { $0 != 0 }.count
        // Every variant, lossy ones included, is bit-exact with Pillow 13 (see ImageDecoding.swift).
        #expect(worst == 0, "\(variant.file): \(differing) of \(differences.count) samples differ, by up to \(worst)")
    }

    /// The formats whose modes clipcam follows (SDL2_image delivers the others as RGB or RGBA; their pixels are
    /// compared all the same).
    static let modeFollowed = ImageVariant.decodable.filter {
        ["png", "jpeg", "gif", "bmp", "tiff", "webp"].contains(
            $0.name.split(separator: "-").first.map(String.init) ?? "")
    }

    @Test("decoded as Pillow's mode", arguments: modeFollowed)
    func modeEqualsPillow(_ variant: ImageVariant) throws {
        try requireListed(variant)
        let decoded = try ImageFile.decodeFile(SystemPath(variant.url.path))
        let mode = decoded.image.pixels.modeName
        // Pillow's "I;16B" (a big-endian 16-bit TIFF) converts exactly as "I;16".
        let expected = variant.mode == "I;16B" ? "I;16" : variant.mode
        #expect(mode == expected, "\(variant.file): mode \(mode), Pillow's \(variant.mode ?? "?")")
    }

    @Test("embeddings equal the reference's", arguments: Fixtures.modelNames)
    func embeddingsEqualReference(model name: String) throws {
        let file = try referenceFile()
        let model = try CLIPModel(directory: Fixtures.model(name))
        let preprocessor = ImagePreprocessor(size: model.imageSize)
        let expected = try file.floats("image_embeds.\(name)")
        let width = expected.shape[1]
        let variants = ImageVariant.decodable
        try #require(variants.count >= 100, "only \(variants.count) decodable variants listed: \(regenerate)")
        var worst: Float = 0
        var worstCosine = 1.0
        for variant in variants {
            try requireListed(variant)
            let row = try #require(variant.embedding, "\(variant.name) has no embedding row")
            let frame = try ImageFile.load(SystemPath(variant.url.path))
            let embedding = model.encodeImage(
                preprocessor.preprocess(bgr: frame.bgr, width: frame.width, height: frame.height))
            let reference = Array(expected.values[(row * width)..<((row + 1) * width)])
            let difference = maxAbsDifference(CLIPModel.l2Normalized(embedding), CLIPModel.l2Normalized(reference))
            let similarity = cosine(embedding, reference)
            worst = max(worst, difference)
            worstCosine = min(worstCosine, similarity)
            #expect(difference <= 1e-4, "\(name) \(variant.file): max abs diff \(difference)")
            #expect(similarity >= 0.99999, "\(name) \(variant.file): cosine \(similarity)")
        }
        print(
            "\(name): \(variants.count) image variants, max abs diff \(worst) (normalised), min cosine \(worstCosine)")
    }

    @Test("CMYK JPEGs keep their colour: dark blue stays (20, 60, 159), black stays black")
    func cmykJPEGColours() throws {
        for (name, colour) in [("jpeg-cmyk-dark-blue", [20, 60, 159]), ("jpeg-cmyk-black", [0, 0, 0])] {
            let url = variantsFolder.appendingPathComponent("\(name).jpg")
            try #require(FileManager.default.fileExists(atPath: url.path), "\(url.path) is missing: \(regenerate)")
            let decoded = try ImageFile.loadRGB(SystemPath(url.path))
            let centre = (decoded.height / 2 * decoded.width + decoded.width / 2) * 3
            let pixel = decoded.pixels[centre..<(centre + 3)].map(Int.init)
            #expect(zip(pixel, colour).allSatisfy { abs($0 - $1) <= 1 }, "\(name): centre pixel \(pixel)")
        }
    }

    @Test("files Pillow refuses are refused, naming the file and the reason", arguments: ImageVariant.refusedByPillow)
    func refusedAsPillowRefuses(_ variant: ImageVariant) throws {
        try requireListed(variant)
        let path = variant.url.path
        var usage = rusage()
        getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
        let residentBefore = usage.ru_maxrss
        let start = Date()
        let error = #expect(throws: ImageFileError.self, "\(variant.file) (Pillow: \(variant.refused ?? ""))") {
            _ = try ImageFile.load(SystemPath(path))  // not the frame: a failure would print all its pixels
        }
        let seconds = Date().timeIntervalSince(start)
        getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
        guard let error else { return }
        #expect(error.description.contains(path), "\(error) does not name the file")
        switch (variant.expect, error) {
        case ("truncated", .truncated): break
        case ("unsupported", .unsupported): break
        case ("unknownFormat", .unknownFormat): break
        case ("damaged", .decodeFailed): break
        case ("tooManyPixels", .tooManyPixels(_, _, let width, let height)):
            #expect(width * height > 178_956_970)
            #expect(error.description.contains("178956970"), "\(error) does not give the limit")
            // Refused from the header: at once, and without the 400 MB to 1.6 GB decoding would take (the peak
            // resident size is the process's; the other tests running meanwhile use far less than the bound).
            #expect(seconds < 0.5, "\(variant.file): refused after \(seconds) s")
            let grown = usage.ru_maxrss - residentBefore
            #expect(grown < 256 * 1024, "\(variant.file): the peak resident size grew by \(grown) KiB")
        default:
            Issue.record("\(variant.file): expected a refusal of kind \(variant.expect ?? "?"), got: \(error)")
        }
    }
}

@Suite("Image files that are not plain files, or whose names are not UTF-8")
struct ImageFileAccessTests {
    @Test("a FIFO named x.png is refused at once, not read")
    func fifoRefused() throws {
        let folder = try TemporaryFolder()
        let path = folder.file("x.png").path
        try #require(mkfifo(path, 0o644) == 0, "mkfifo: \(String(cString: strerror(errno)))")
        let done = DispatchSemaphore(value: 0)
        let outcome = LockedBox<Result<Frame, Error>?>(nil)
        Thread.detachNewThread {
            outcome.set(Result { try ImageFile.load(path) })
            done.signal()
        }
        if done.wait(timeout: .now() + 5) == .timedOut {
            Issue.record("ImageFile.load blocked on the FIFO for 5 s")
            // Unblock the reader: a writer that opens and closes gives it end of file.
            let writer = open(path, O_WRONLY | O_NONBLOCK)
            if writer >= 0 { close(writer) }
            _ = done.wait(timeout: .now() + 5)
            return
        }
        switch outcome.get() {
        case .failure(let error as ImageFileError):
            #expect(error == .notRegularFile(path: path, kind: "a FIFO (named pipe)"), "\(error)")
            #expect(error.description.contains("\(path) is a FIFO (named pipe), not a regular file"))
        case let other:
            Issue.record("expected a refusal of the FIFO, got \(String(describing: other))")
        }
    }

    @Test("a PNG whose name holds the byte 0xFF decodes")
    func nonUTF8Name() throws {
        let folder = try TemporaryFolder()
        let source = variantsFolder.appendingPathComponent("png-rgb8.png")
        let contents = try #require(
            FileManager.default.contents(atPath: source.path), "\(source.path) is missing: \(regenerate)")
        let path = SystemPath(bytes: Array(folder.url.path.utf8) + Array("/bad".utf8) + [0xFF] + Array("name.png".utf8))
        let descriptor = path.withCString { open($0, O_WRONLY | O_CREAT | O_EXCL, 0o644) }
        try #require(descriptor >= 0, "cannot create \(path): \(String(cString: strerror(errno)))")
        let written = contents.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        close(descriptor)
        try #require(written == contents.count)
        let decoded = try ImageFile.loadRGB(path)
        let original = try ImageFile.loadRGB(SystemPath(source.path))
        #expect(decoded.width == original.width && decoded.height == original.height)
        #expect(decoded.pixels == original.pixels)
    }
}

/// A value shared between threads.
final class LockedBox<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func get() -> Value { lock.withLock { value } }
    func set(_ newValue: Value) { lock.withLock { value = newValue } }
}
