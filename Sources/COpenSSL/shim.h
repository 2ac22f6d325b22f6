/* OpenSSL's libcrypto, for SHA-256 (the embedding cache's content hashes and checksums). */
#include <openssl/evp.h>
