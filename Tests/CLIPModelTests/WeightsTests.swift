import Foundation
import Testing

@testable import CLIPModel

/// Checkpoint verification: each mismatch between model.safetensors and config.json is its own named error.
@Suite struct WeightsTests {
    struct Tensor {
        var name: String
        var dtype: DType
        var shape: [Int]
        var bytes: [UInt8]
    }

    /// A model folder holding the fixture's config.json and the fixture's tensors after `edit`.
    private func brokenModel(_ fixture: String = "tiny-quickgelu-f32", _ edit: (inout [Tensor]) -> Void) throws
        -> (TemporaryFolder, String)
    {
        let source = Fixtures.model(fixture)
        try Fixtures.require(source.appendingPathComponent("model.safetensors"))
        let file = try SafeTensorsFile(url: source.appendingPathComponent("model.safetensors"))
        var tensors = file.tensors.values.sorted { $0.name < $1.name }.map {
            Tensor(name: $0.name, dtype: $0.dtype, shape: $0.shape, bytes: Array(file.bytes(of: $0)))
        }
        edit(&tensors)
        let folder = try TemporaryFolder()
        try FileManager.default.copyItem(
            at: source.appendingPathComponent("config.json"),
            to: folder.file("config.json"))
        let path = folder.file("model.safetensors").path
        let writer = try SafeTensorsWriter(
            path: path, declarations: tensors.map { .init(name: $0.name, dtype: $0.dtype, shape: $0.shape) })
        for tensor in tensors { try writer.append(raw: tensor.bytes) }
        return (folder, path)
    }

    private func loadError(_ folder: TemporaryFolder, sourceLocation: SourceLocation = #_sourceLocation)
        -> CLIPWeightsError?
    {
        do {
            _ = try CLIPModel(directory: folder.url)
            Issue.record("the model loaded", sourceLocation: sourceLocation)
        } catch let error as CLIPWeightsError {
            return error
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        }
        return nil
    }

    @Test func expectedTableCoversTheCheckpoint() throws {
        let config = try CLIPConfiguration(
            contentsOf: Fixtures.model("tiny-gelu-f16").appendingPathComponent("config.json"))
        let table = TensorName.expectedShapes(config)
        #expect(Set(table.map(\.name)).count == table.count)
        // 16 per layer, 2 + 2 text, 3 + 4 vision, 2 projections and logit_scale.
        #expect(table.count == 16 * (2 + 3) + 4 + 7 + 3)
        let file = try SafeTensorsFile(url: Fixtures.model("tiny-gelu-f16").appendingPathComponent("model.safetensors"))
        #expect(Set(file.tensors.keys).subtracting(TensorName.ignoredPositionIDs) == Set(table.map(\.name)))
        let shapes = Dictionary(uniqueKeysWithValues: table.map { ($0.name, $0.shape) })
        #expect(shapes["vision_model.embeddings.patch_embedding.weight"] == [40, 3, 8, 8])
        #expect(shapes["vision_model.embeddings.position_embedding.weight"] == [37, 40])
        #expect(shapes["text_model.encoder.layers.1.mlp.fc1.weight"] == [56, 24])
        #expect(shapes["visual_projection.weight"] == [16, 40])
        #expect(shapes["logit_scale"] == [])
    }

    @Test func missingTensor() throws {
        let name = "vision_model.encoder.layers.1.self_attn.k_proj.bias"
        let (folder, path) = try brokenModel { $0.removeAll { $0.name == name } }
        let error = loadError(folder)
        #expect(error == .missingTensor(file: path, tensor: name))
        #expect(error?.description.contains(name) == true && error?.description.contains(path) == true)
    }

    @Test func unexpectedTensor() throws {
        let name = "vision_model.encoder.layers.1.mlp.fc3.bias"
        let (folder, path) = try brokenModel {
            $0.append(Tensor(name: name, dtype: .f32, shape: [1], bytes: [0, 0, 0, 0]))
        }
        let error = loadError(folder)
        #expect(error == .unexpectedTensor(file: path, tensor: name))
        #expect(error?.description.contains(name) == true)
    }

    @Test func wrongShape() throws {
        let name = "text_model.encoder.layers.0.mlp.fc2.weight"
        let (folder, path) = try brokenModel { tensors in
            let index = tensors.firstIndex { $0.name == name }!
            tensors[index].shape = [80, 32]
        }
        let error = loadError(folder)
        #expect(error == .wrongShape(file: path, tensor: name, expected: [32, 80], actual: [80, 32]))
        #expect(error?.description.contains("[32, 80]") == true && error?.description.contains(name) == true)
    }

    @Test func wrongDType() throws {
        let name = "text_projection.weight"
        let (folder, path) = try brokenModel { tensors in
            let index = tensors.firstIndex { $0.name == name }!
            tensors[index].dtype = .i32
        }
        let error = loadError(folder)
        #expect(error == .wrongDType(file: path, tensor: name, expected: "F32, F16 or BF16", actual: .i32))
        #expect(error?.description.contains(name) == true)
    }

    @Test func positionIDsAreAcceptedOnlyAsI64() throws {
        let ids = (0..<77).flatMap { withUnsafeBytes(of: Int64($0).littleEndian) { Array($0) } }
        let (good, _) = try brokenModel { tensors in
            tensors.append(
                Tensor(name: "text_model.embeddings.position_ids", dtype: .i64, shape: [1, 77], bytes: ids))
        }
        let model = try CLIPModel(directory: good.url)
        #expect(model.embeddingSize == 24)

        let name = "vision_model.embeddings.position_ids"
        let (bad, path) = try brokenModel { tensors in
            tensors.append(Tensor(name: name, dtype: .f32, shape: [1, 17], bytes: Array(repeating: 0, count: 68)))
        }
        #expect(loadError(bad) == .wrongDType(file: path, tensor: name, expected: "I64", actual: .f32))
    }

    @Test func logitScaleMayBeAVectorOfOne() throws {
        let (folder, _) = try brokenModel { tensors in
            let index = tensors.firstIndex { $0.name == "logit_scale" }!
            tensors[index].shape = [1]
        }
        let model = try CLIPModel(directory: folder.url)
        #expect(abs(model.logitScale - Float(log(100.0))) < 1e-6)
    }

    @Test func missingWeightsFile() throws {
        let folder = try TemporaryFolder()
        try FileManager.default.copyItem(
            at: Fixtures.model("tiny-quickgelu-f32").appendingPathComponent("config.json"),
            to: folder.file("config.json"))
        #expect { try CLIPModel(directory: folder.url) } throws: { error in
            guard case SafeTensorsError.cannotOpen(let file, _) = error else { return false }
            return file == folder.file("model.safetensors").path
        }
    }
}
