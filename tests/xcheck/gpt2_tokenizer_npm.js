// Reference side of gpt2_tokenizer_npm.sh: encodes each line of a file (split at '\n' only, no
// extra line after a trailing newline, as `golgi tokenize` does) with the npm package
// gpt-3-encoder, printing one JSON array of ids per line.
// Usage: node gpt2_tokenizer_npm.js NODE_MODULES_DIR TEXT_FILE
const path = require('path');
const fs = require('fs');
const { encode } = require(path.resolve(process.argv[2], 'gpt-3-encoder'));
const text = fs.readFileSync(process.argv[3], 'utf8');
const lines = text.split('\n');
if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
const out = lines.map((line) => JSON.stringify(encode(line)));
process.stdout.write(out.join('\n') + (out.length ? '\n' : ''));
