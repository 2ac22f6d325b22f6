import Testing

@Test func CLIPTokenizerTestsBuilds() {}
