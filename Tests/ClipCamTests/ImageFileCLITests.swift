import CLIPModel
import Classifier
import Foundation
import Glibc
import Testing

/// `clipcam embed-image` on image files as the reference reads them (scripts/fixtures/gen_image_variants.py), on
/// damaged files, on a FIFO and on a name that is not UTF-8.
@Suite struct ImageFileCLITests {
    static let modelName = "tiny-quickgelu-f32"
    static let model = Repo.model(modelName).path
    static let variants = Repo.images.appendingPathComponent("variants")
    static let regenerate = "run `python3 scripts/fixtures/gen_image_variants.py`"

    /// The reference's embedding of a variant (its row in image_embeds.<model>, from image-variants.json).
    private func referenceEmbedding(_ name: String) throws -> [Float] {
        let listing = Repo.reference("image-variants.json")
        let data = try #require(
            FileManager.default.contents(atPath: listing.path), "\(listing.path): \(Self.regenerate)")
        let document = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let entries = try #require(document["variants"] as? [[String: Any]])
        let entry = try #require(entries.first { $0["name"] as? String == name }, "\(name) is not listed")
        let row = try #require(entry["embedding"] as? Int, "\(name) has no embedding")
        let tensors = try SafeTensorsFile(url: Repo.reference("image-variants.safetensors"))
        let embeds = try tensors.floats("image_embeds.\(Self.modelName)")
        let width = embeds.shape[1]
        return Array(embeds.values[(row * width)..<((row + 1) * width)])
    }

    @Test("the dark-blue and the black CMYK JPEG embed as the reference embeds them")
    func cmykJPEGsEmbedAsTheReference() throws {
        for name in ["jpeg-cmyk-dark-blue", "jpeg-cmyk-black", "jpeg-ycck", "png-grey16-trns", "gif-transparent"] {
            let file = try #require(
                try FileManager.default.contentsOfDirectory(atPath: Self.variants.path).first {
                    $0.hasPrefix(name + ".")
                }, "\(name): \(Self.regenerate)")
            let run = try clipcam([
                "embed-image", "--model", Self.model, Self.variants.appendingPathComponent(file).path,
            ])
            #expect(run.status == 0, "\(run.stderr)")
            let ours = try #require(try parseEmbeddings(run.stdout).first)
            let reference = try referenceEmbedding(name)
            let difference = zip(Scoring.l2Normalized(ours), Scoring.l2Normalized(reference)).map { abs($0 - $1) }.max()
            #expect((difference ?? 1) <= 1e-4, "\(name): max abs difference \(difference ?? -1)")
        }
    }

    @Test("a truncated JPEG is refused, naming the file")
    func truncatedJPEGIsRefused() throws {
        let path = Self.variants.appendingPathComponent("jpeg-truncated.jpg").path
        try #require(FileManager.default.fileExists(atPath: path), "\(path) is missing: \(Self.regenerate)")
        let run = try clipcam(["embed-image", "--model", Self.model, path])
        #expect(run.status == 1)
        #expect(run.stdout.isEmpty)
        #expect(run.stderr.contains("the JPEG file \(path) is truncated"), "\(run.stderr)")
    }

    @Test("an image over Pillow's pixel limit is refused at once, with its size and the limit")
    func bombIsRefused() throws {
        let path = Self.variants.appendingPathComponent("png-bomb.png").path
        try #require(FileManager.default.fileExists(atPath: path), "\(path) is missing: \(Self.regenerate)")
        let run = try clipcam(["embed-image", "--model", Self.model, path])
        #expect(run.status == 1)
        #expect(run.stderr.contains("\(path) is 20000 × 20000 pixels, more than the 178956970"), "\(run.stderr)")
        #expect(run.seconds < 20)
    }

    @Test("a FIFO named x.png is refused at once instead of blocking")
    func fifoIsRefused() throws {
        let folder = try temporaryFolder("image-fifo")
        defer { try? FileManager.default.removeItem(at: folder) }
        let fifo = folder.appendingPathComponent("x.png").path
        try #require(mkfifo(fifo, 0o644) == 0)
        let run = try clipcam(
            bytes: [Array("embed-image".utf8), Array("--model".utf8), Array(Self.model.utf8), Array(fifo.utf8)],
            timeLimit: 20)
        #expect(run.status == 1, "status \(run.status) after \(run.seconds) s: \(run.stderr)")
        #expect(run.stderr.contains("\(fifo) is a FIFO (named pipe), not a regular file"), "\(run.stderr)")
        #expect(run.seconds < 20)
    }

    @Test("a PNG whose name holds the byte 0xFF embeds like the same file under a plain name")
    func nonUTF8NameEmbeds() throws {
        let folder = try temporaryFolder("image-bytes")
        defer { try? FileManager.default.removeItem(at: folder) }
        let source = Repo.images.appendingPathComponent("gradient-320x240.png")
        let contents = try #require(FileManager.default.contents(atPath: source.path))
        let name = Array(folder.path.utf8) + Array("/bad".utf8) + [0xFF] + Array("name.png".utf8)
        try #require(write(bytes: name, Array(contents)))
        let run = try clipcam(bytes: [Array("embed-image".utf8), Array("--model".utf8), Array(Self.model.utf8), name])
        #expect(run.status == 0, "\(run.stderr)")
        let plain = try clipcam(["embed-image", "--model", Self.model, source.path])
        #expect(try parseEmbeddings(run.stdout) == parseEmbeddings(plain.stdout))
    }
}
