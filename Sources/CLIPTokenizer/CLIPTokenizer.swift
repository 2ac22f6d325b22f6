// CLIPTokenizer
