import Testing

@testable import CLIPModel

@Test func imageFLOPsMatchTheKnownFiguresOfViTB32AndB16() {
    // transformers' defaults are ViT-B/32: 8.8 GFLOP per image; ViT-B/16 (patch 16, 197 tokens): 35 GFLOP.
    var b32 = CLIPConfiguration()
    #expect(abs(b32.imageFLOPs / 1e9 - 8.82) < 0.01)
    b32.vision.patchSize = 16
    #expect(abs(b32.imageFLOPs / 1e9 - 35.1) < 0.1)
}
