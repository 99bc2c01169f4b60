// Drives `enclave mcp` with the official MCP TypeScript SDK's stdio client:
// lists the tools, runs print(6*7) through run_python, and runs a command
// the policy refuses. Prints one JSON document with what it saw; the pytest
// test (test_mcp.py) checks it.
//
// usage: node client.mjs ENCLAVE_BIN   (the environment is passed on to it)
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const bin = process.argv[2];
const transport = new StdioClientTransport({ command: bin, args: ["mcp"], env: process.env, stderr: "inherit" });
const client = new Client({ name: "enclave-mcp-test", version: "1.0.0" });
await client.connect(transport);

const out = { server: client.getServerVersion(), protocol: transport._protocolVersion ?? null };
const tools = await client.listTools();
out.tools = tools.tools.map((t) => ({ name: t.name, schemaType: t.inputSchema.type, required: t.inputSchema.required ?? [] }));
out.python = await client.callTool({ name: "run_python", arguments: { code: "print(6*7)" } });
out.state = await client.callTool({ name: "run_python", arguments: { code: "x = 20" } });
out.state2 = await client.callTool({ name: "run_python", arguments: { code: "x + 1" } });
out.denied = await client.callTool({ name: "run_command", arguments: { argv: ["ls", "/"] } });
out.write = await client.callTool({ name: "write_file", arguments: { path: "/workspace/n.txt", content: "hello mcp" } });
out.read = await client.callTool({ name: "read_file", arguments: { path: "/workspace/n.txt" } });
out.list = await client.callTool({ name: "list_files", arguments: {} });
try {
  await client.callTool({ name: "no_such_tool", arguments: {} });
  out.unknown = "no error";
} catch (e) {
  out.unknown = { code: e.code, message: String(e.message) };
}
await client.close();
console.log(JSON.stringify(out));
