import Foundation
import Testing

@testable import CLIPModel

/// config.json parsing against transformers' CLIPConfig rules.
@Suite struct ConfigurationTests {
    private func parse(_ json: String) throws -> CLIPConfiguration {
        try CLIPConfiguration(json: Data(json.utf8), file: "test/config.json")
    }

    private func parseError(_ json: String, sourceLocation: SourceLocation = #_sourceLocation)
        -> CLIPConfigurationError?
    {
        do {
            _ = try parse(json)
            Issue.record("\(json) parsed", sourceLocation: sourceLocation)
        } catch let error as CLIPConfigurationError {
            #expect(error.description.contains("test/config.json"), sourceLocation: sourceLocation)
            return error
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        }
        return nil
    }

    /// ViT-B/32 as transformers builds it.
    private func expectViTB32(_ config: CLIPConfiguration) {
        let text = config.text
        #expect(text.vocabSize == 49408 && text.hiddenSize == 512 && text.intermediateSize == 2048)
        #expect(text.numHiddenLayers == 12 && text.numAttentionHeads == 8 && text.maxPositionEmbeddings == 77)
        #expect(text.hiddenAct == .quickGELU && text.layerNormEps == 1e-5 && text.headDim == 64)
        let vision = config.vision
        #expect(vision.hiddenSize == 768 && vision.intermediateSize == 3072 && vision.numHiddenLayers == 12)
        #expect(vision.numAttentionHeads == 12 && vision.imageSize == 224 && vision.patchSize == 32)
        #expect(vision.numChannels == 3 && vision.hiddenAct == .quickGELU && vision.layerNormEps == 1e-5)
        #expect(vision.gridSize == 7 && vision.tokenCount == 50)
        #expect(config.projectionDim == 512 && config.logitScaleInit == 2.6592)
    }

    @Test func openaiMinimalConfig() throws {
        let url = Fixtures.models.appendingPathComponent("configs/openai-clip-vit-base-patch32.json")
        try Fixtures.require(url)
        let config = try CLIPConfiguration(contentsOf: url)
        expectViTB32(config)
        #expect(config.text.bosTokenID == 0 && config.text.eosTokenID == 2)
        #expect(config.text.poolsAtLargestID)
        #expect(!config.isRandom)
    }

    @Test func emptyObjectIsAllDefaults() throws {
        let config = try parse("{}")
        expectViTB32(config)
        #expect(config == CLIPConfiguration())
        #expect(config.text.eosTokenID == 49407 && !config.text.poolsAtLargestID)
    }

    @Test func topLevelKeysAndRandomMarker() throws {
        let config = try parse(
            """
            {"projection_dim": 768, "logit_scale_init_value": 4.6052, "clipcam_random_weights": true,
             "text_config": null, "vision_config": {"image_size": [336, 336], "patch_size": 14}}
            """)
        #expect(config.projectionDim == 768 && config.logitScaleInit == 4.6052 && config.isRandom)
        #expect(config.vision.imageSize == 336 && config.vision.patchSize == 14 && config.vision.tokenCount == 577)
        #expect(config.text == TextConfig())
    }

    @Test func legacyDictsOverrideModernKeys() throws {
        let config = try parse(
            """
            {"text_config": {"hidden_act": "quick_gelu", "intermediate_size": 999, "hidden_size": 64},
             "text_config_dict": {"hidden_size": 24, "num_attention_heads": 3, "hidden_act": "gelu",
                                  "eos_token_id": 1513, "layer_norm_eps": 1e-6},
             "vision_config_dict": {"hidden_size": 40, "num_attention_heads": 5, "hidden_act": "gelu_new"}}
            """)
        #expect(config.text.hiddenSize == 24 && config.text.numAttentionHeads == 3)
        // Keys absent from the *_dict take transformers' defaults, not the modern text_config's values.
        #expect(config.text.intermediateSize == 2048)
        #expect(config.text.hiddenAct == .gelu && config.text.layerNormEps == 1e-6)
        #expect(config.text.eosTokenID == 1513 && !config.text.poolsAtLargestID)
        #expect(config.vision.hiddenSize == 40 && config.vision.hiddenAct == .geluNew)
    }

    @Test func fixtureModelConfigs() throws {
        let modern = try CLIPConfiguration(
            contentsOf: Fixtures.model("tiny-quickgelu-f32").appendingPathComponent("config.json"))
        #expect(modern.text.hiddenSize == 32 && modern.text.vocabSize == 1514 && modern.text.poolsAtLargestID)
        #expect(modern.vision.imageSize == 64 && modern.vision.patchSize == 16 && modern.projectionDim == 24)
        let legacy = try CLIPConfiguration(
            contentsOf: Fixtures.model("tiny-gelu-f16").appendingPathComponent("config.json"))
        #expect(legacy.text.hiddenAct == .gelu && legacy.text.intermediateSize == 56)
        #expect(legacy.text.eosTokenID == 1513 && !legacy.text.poolsAtLargestID)
        #expect(legacy.vision.hiddenAct == .gelu && legacy.vision.numHiddenLayers == 3)
    }

    @Test func unreadableAndInvalidFiles() throws {
        let folder = try TemporaryFolder()
        let missing = folder.file("config.json")
        #expect { try CLIPConfiguration(contentsOf: missing) } throws: { error in
            guard case CLIPConfigurationError.cannotRead(let file, _) = error else { return false }
            return file == missing.path
        }
        if case .invalidJSON = parseError("{\"projection_dim\": ") {} else { Issue.record("expected invalidJSON") }
        #expect(parseError("[1]") == .notAnObject(file: "test/config.json", key: nil))
        #expect(parseError("{\"text_config\": 5}") == .notAnObject(file: "test/config.json", key: "text_config"))
        #expect(parseError("{\"model_type\": \"siglip\"}") == .notCLIP(file: "test/config.json", modelType: "siglip"))
    }

    @Test func wrongTypesNameTheKey() {
        #expect(
            parseError("{\"vision_config\": {\"hidden_size\": \"768\"}}")
                == .wrongType(
                    file: "test/config.json", key: "vision_config.hidden_size", expected: "an integer",
                    found: "\"768\""))
        #expect(
            parseError("{\"text_config_dict\": {\"num_hidden_layers\": 1.5}}")
                == .wrongType(
                    file: "test/config.json", key: "text_config_dict.num_hidden_layers",
                    expected: "an integer", found: "1.5"))
        #expect(
            parseError("{\"text_config\": {\"eos_token_id\": [2, 49407]}}")
                == .wrongType(
                    file: "test/config.json", key: "text_config.eos_token_id", expected: "an integer",
                    found: "[2, 49407]"))
        #expect(
            parseError("{\"text_config\": {\"layer_norm_eps\": null}}")
                == .wrongType(
                    file: "test/config.json", key: "text_config.layer_norm_eps", expected: "a number",
                    found: "null"))
        #expect(
            parseError("{\"clipcam_random_weights\": \"yes\"}")
                == .wrongType(
                    file: "test/config.json", key: "clipcam_random_weights", expected: "true or false",
                    found: "\"yes\""))
    }

    @Test func invalidValuesNameTheKey() {
        #expect(
            parseError("{\"text_config\": {\"hidden_act\": \"relu\"}}")
                == .unsupportedActivation(file: "test/config.json", key: "text_config.hidden_act", value: "relu"))
        #expect(
            parseError("{\"vision_config\": {\"num_attention_heads\": 7}}")
                == .invalidValue(
                    file: "test/config.json", key: "vision_config.num_attention_heads", value: "7",
                    requirement: "a divisor of hidden_size (768)"))
        #expect(
            parseError("{\"vision_config\": {\"image_size\": [224, 112]}}")
                == .invalidValue(
                    file: "test/config.json", key: "vision_config.image_size", value: "[224, 112]",
                    requirement: "square (height == width)"))
        #expect(
            parseError("{\"vision_config\": {\"num_channels\": 1}}")
                == .invalidValue(
                    file: "test/config.json", key: "vision_config.num_channels", value: "1",
                    requirement: "3 (RGB)"))
        #expect(
            parseError("{\"projection_dim\": 0}")
                == .invalidValue(
                    file: "test/config.json", key: "projection_dim", value: "0",
                    requirement: "between 1 and 16384 (clipcam's limit; ViT-bigG/14 projects to 1280)"))
        #expect(
            parseError("{\"text_config\": {\"layer_norm_eps\": -1}}")
                == .invalidValue(
                    file: "test/config.json", key: "text_config.layer_norm_eps", value: "-1.0",
                    requirement: "a positive number"))
    }

    @Test func writtenJSONParsesBack() throws {
        var config = CLIPConfiguration()
        config.text.vocabSize = 1514
        config.text.bosTokenID = 1512
        config.text.eosTokenID = 1513
        config.text.hiddenAct = .gelu
        config.vision.patchSize = 16
        config.vision.layerNormEps = 1e-6
        config.isRandom = true
        let text = config.jsonText()
        #expect(text.contains("\"layer_norm_eps\": 1e-05"))
        #expect(text.contains("\"initializer_factor\": 1.0"))
        #expect(try CLIPConfiguration(json: Data(text.utf8), file: "written") == config)
    }
}
