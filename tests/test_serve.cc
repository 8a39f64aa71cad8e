/*
 * test_serve.cc — `nib serve` end to end: the built binary started on a free
 * loopback port with the default chat model, spoken to over HTTP with
 * libcurl. OpenAI response shapes, SSE framing, usage counts, seeds, stop
 * strings, batching independence (8 concurrent greedy requests = each alone),
 * auth, error statuses, a client leaving mid-stream, and SIGTERM.
 */
#include "cli_runner.h"
#include "test_util.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

/* A `nib serve` child process on a free port. */
struct Server {
    pid_t pid = -1;
    int port = 0;
    std::string log;

    explicit Server(const std::vector<std::string> &extra) {
        static int n = 0;
        log = nib_test_temp_path("nib_serve_err." + std::to_string(getpid()) + "." + std::to_string(n++));
        std::vector<std::string> args = { NIB_CLI_PATH, "serve", "-m", NIB_SOURCE_DIR "/models/tiny-chat-q8_0.gguf",
                                          "--port", "0", "-t", "2" };
        args.insert(args.end(), extra.begin(), extra.end());
        pid = fork();
        if (pid == 0) {
            int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
            int nul = open("/dev/null", O_WRONLY);
            dup2(fd, 2);
            dup2(nul, 1);
            setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
            std::vector<char *> av;
            for (auto &a : args) av.push_back(const_cast<char *>(a.c_str()));
            av.push_back(nullptr);
            execv(av[0], av.data());
            _exit(127);
        }
        const std::string key = "listening on http://127.0.0.1:";
        for (int i = 0; i < 300 && port == 0; i++) { /* up to 30 s (sanitizer builds are slow) */
            std::vector<uint8_t> b = nib_test_read_file(log);
            std::string s(b.begin(), b.end());
            size_t at = s.find(key);
            if (at != std::string::npos && s.find('\n', at) != std::string::npos) port = atoi(s.c_str() + at + key.size());
            else std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    }
    /* SIGTERM and wait: the exit status, or -1 if it did not exit within 10 s. */
    int stop() {
        if (pid <= 0) return -1;
        kill(pid, SIGTERM);
        int st = 0;
        for (int i = 0; i < 1000; i++) {
            if (waitpid(pid, &st, WNOHANG) == pid) {
                pid = -1;
                return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        pid = -1;
        return -1;
    }
    ~Server() {
        stop();
        std::remove(log.c_str());
    }
};

struct Reply {
    long status = 0;
    std::string body;
};

struct Sink {
    std::string *out;
    size_t abort_after; /* 0: never */
};

size_t on_data(char *p, size_t sz, size_t n, void *user) {
    Sink *s = static_cast<Sink *>(user);
    s->out->append(p, sz * n);
    if (s->abort_after && s->out->size() >= s->abort_after) return 0; /* the client hangs up */
    return sz * n;
}

Reply http(int port, const std::string &method, const std::string &path, const std::string &body = "",
           const std::string &auth = "", size_t abort_after = 0) {
    Reply r;
    CURL *c = curl_easy_init();
    std::string url = "http://127.0.0.1:" + std::to_string(port) + path;
    Sink sink = { &r.body, abort_after };
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    struct curl_slist *h = curl_slist_append(nullptr, "Content-Type: application/json");
    if (!auth.empty()) h = curl_slist_append(h, ("Authorization: Bearer " + auth).c_str());
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (method == "POST") {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body.size());
    }
    if (curl_easy_perform(c) == CURLE_OK || abort_after) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return r;
}

/* Parsed JSON that frees itself. */
struct Json {
    cJSON *j;
    explicit Json(const std::string &s) : j(cJSON_Parse(s.c_str())) {}
    ~Json() { cJSON_Delete(j); }
    Json(const Json &) = delete;
    Json &operator=(const Json &) = delete;
};

const cJSON *at(const cJSON *j, const char *path) { /* "a.b.0.c" */
    std::string p(path);
    size_t start = 0;
    while (j && start <= p.size()) {
        size_t dot = p.find('.', start);
        std::string k = p.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        j = isdigit((unsigned char)k[0]) ? cJSON_GetArrayItem(j, atoi(k.c_str())) : cJSON_GetObjectItemCaseSensitive(j, k.c_str());
        if (dot == std::string::npos) break;
        start = dot + 1;
    }
    return j;
}
std::string str(const cJSON *j, const char *path) {
    const cJSON *x = at(j, path);
    return cJSON_IsString(x) ? x->valuestring : "<missing>";
}
double num(const cJSON *j, const char *path) {
    const cJSON *x = at(j, path);
    return cJSON_IsNumber(x) ? x->valuedouble : -1;
}

std::string quote(const std::string &s) {
    cJSON *x = cJSON_CreateString(s.c_str());
    char *p = cJSON_PrintUnformatted(x);
    std::string r(p);
    free(p);
    cJSON_Delete(x);
    return r;
}

std::string chat_body(const std::string &user, const std::string &extra) {
    return "{\"model\":\"x\",\"messages\":[{\"role\":\"system\",\"content\":\"You tell stories.\"},{\"role\":\"user\",\"content\":" +
           quote(user) + "}]" + (extra.empty() ? "" : "," + extra) + "}";
}
std::string completion_body(const std::string &prompt, const std::string &extra) {
    return "{\"prompt\":" + quote(prompt) + (extra.empty() ? "" : "," + extra) + "}";
}

/* The SSE events of a stream: each `data: X` payload; framing checked. */
std::vector<std::string> sse_events(const std::string &body) {
    std::vector<std::string> ev;
    size_t p = 0;
    while (p < body.size()) {
        size_t end = body.find("\n\n", p);
        EXPECT_NE(end, std::string::npos) << "unterminated event at " << p;
        if (end == std::string::npos) break;
        std::string e = body.substr(p, end - p);
        p = end + 2;
        if (e[0] == ':') continue; /* comment (keep-alive) */
        EXPECT_EQ(e.compare(0, 6, "data: "), 0) << e;
        ev.push_back(e.substr(6));
    }
    return ev;
}

/* A streamed response joined: text, finish_reason, usage (or -1). */
struct Streamed {
    std::string text, finish, role;
    double prompt_tokens = -1, completion_tokens = -1;
    bool done = false;
};
Streamed join_stream(const std::string &body, bool chat) {
    Streamed s;
    std::vector<std::string> ev = sse_events(body);
    for (size_t i = 0; i < ev.size(); i++) {
        if (ev[i] == "[DONE]") {
            s.done = i + 1 == ev.size();
            continue;
        }
        Json j(ev[i]);
        EXPECT_TRUE(j.j) << ev[i];
        if (!j.j) continue;
        EXPECT_EQ(str(j.j, "object"), chat ? "chat.completion.chunk" : "text_completion");
        if (cJSON_IsObject(at(j.j, "usage"))) {
            s.prompt_tokens = num(j.j, "usage.prompt_tokens");
            s.completion_tokens = num(j.j, "usage.completion_tokens");
            EXPECT_EQ(cJSON_GetArraySize(at(j.j, "choices")), 0);
            continue;
        }
        if (chat) {
            if (i == 0) s.role = str(j.j, "choices.0.delta.role");
            const cJSON *c = at(j.j, "choices.0.delta.content");
            if (cJSON_IsString(c)) s.text += c->valuestring;
        } else {
            s.text += str(j.j, "choices.0.text");
        }
        const cJSON *f = at(j.j, "choices.0.finish_reason");
        if (cJSON_IsString(f)) s.finish = f->valuestring;
    }
    return s;
}

std::string chat_text(const Reply &r) {
    Json j(r.body);
    return str(j.j, "choices.0.message.content");
}
std::string completion_text(const Reply &r) {
    Json j(r.body);
    return str(j.j, "choices.0.text");
}

double metric(int port, const std::string &name) {
    Reply r = http(port, "GET", "/metrics");
    size_t at = r.body.find("\n" + name + " ");
    return at == std::string::npos ? -1 : atof(r.body.c_str() + at + name.size() + 2);
}

class Serve : public ::testing::Test {
protected:
    static Server *server;
    static void SetUpTestSuite() {
        curl_global_init(CURL_GLOBAL_ALL);
        server = new Server({ "--max-body", "100000", "--parallel", "4" });
    }
    static void TearDownTestSuite() {
        /* a clean exit: under the sanitizers a leak or error would make it non-zero */
        const int st = server->stop();
        std::vector<uint8_t> b = nib_test_read_file(server->log);
        EXPECT_EQ(st, 0) << std::string(b.begin(), b.end());
        delete server;
        server = nullptr;
    }
    void SetUp() override { ASSERT_GT(server->port, 0) << "nib serve did not start"; }
    int port() const { return server->port; }
    void expect_healthy() {
        Reply h = http(port(), "GET", "/health");
        EXPECT_EQ(h.status, 200);
        EXPECT_EQ(h.body, "{\"status\":\"ok\"}");
    }
};
Server *Serve::server = nullptr;

TEST_F(Serve, HealthAndModels) {
    expect_healthy();
    Reply m = http(port(), "GET", "/v1/models");
    ASSERT_EQ(m.status, 200);
    Json j(m.body);
    EXPECT_EQ(str(j.j, "object"), "list");
    EXPECT_EQ(str(j.j, "data.0.id"), "tiny-chat-q8_0.gguf");
    EXPECT_EQ(str(j.j, "data.0.object"), "model");
}

TEST_F(Serve, ChatCompletionShapeAndUsage) {
    Reply r = http(port(), "POST", "/v1/chat/completions", chat_body("Once upon a time there was a cat.", "\"temperature\":0,\"max_tokens\":6"));
    ASSERT_EQ(r.status, 200) << r.body;
    Json j(r.body);
    EXPECT_EQ(str(j.j, "object"), "chat.completion");
    EXPECT_EQ(str(j.j, "id").rfind("chatcmpl-", 0), 0u);
    EXPECT_EQ(str(j.j, "model"), "tiny-chat-q8_0.gguf");
    EXPECT_GT(num(j.j, "created"), 1.6e9);
    EXPECT_EQ(num(j.j, "choices.0.index"), 0);
    EXPECT_EQ(str(j.j, "choices.0.message.role"), "assistant");
    EXPECT_EQ(str(j.j, "choices.0.finish_reason"), "length");
    EXPECT_EQ(num(j.j, "usage.completion_tokens"), 6);
    /* the prompt is the conversation through the model's ChatML template, BOS added */
    std::string rendered = "<|im_start|>system\nYou tell stories.<|im_end|>\n<|im_start|>user\nOnce upon a time there was a "
                           "cat.<|im_end|>\n<|im_start|>assistant\n";
    Json t(http(port(), "POST", "/tokenize", "{\"content\":" + quote(rendered) + ",\"add_special\":true}").body);
    EXPECT_EQ(num(j.j, "usage.prompt_tokens"), cJSON_GetArraySize(at(t.j, "tokens")));
    EXPECT_EQ(num(j.j, "usage.total_tokens"), num(j.j, "usage.prompt_tokens") + 6);
}

TEST_F(Serve, CompletionShapeAndUsage) {
    Reply r = http(port(), "POST", "/v1/completions", completion_body("Once upon a time", "\"temperature\":0,\"max_tokens\":7"));
    ASSERT_EQ(r.status, 200) << r.body;
    Json j(r.body);
    EXPECT_EQ(str(j.j, "object"), "text_completion");
    EXPECT_EQ(str(j.j, "id").rfind("cmpl-", 0), 0u);
    EXPECT_FALSE(str(j.j, "choices.0.text").empty());
    EXPECT_EQ(str(j.j, "choices.0.finish_reason"), "length");
    Json t(http(port(), "POST", "/tokenize", "{\"content\":\"Once upon a time\",\"add_special\":true}").body);
    EXPECT_EQ(num(j.j, "usage.prompt_tokens"), cJSON_GetArraySize(at(t.j, "tokens")));
    EXPECT_EQ(num(j.j, "usage.completion_tokens"), 7);
    EXPECT_EQ(num(j.j, "usage.total_tokens"), num(j.j, "usage.prompt_tokens") + 7);
}

TEST_F(Serve, TokenizeDetokenize) {
    Reply r = http(port(), "POST", "/tokenize", "{\"content\":\"Once upon a time\"}");
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "{\"tokens\":[403,407,261,378]}");
    Reply d = http(port(), "POST", "/detokenize", "{\"tokens\":[403,407,261,378]}");
    ASSERT_EQ(d.status, 200);
    EXPECT_EQ(d.body, "{\"content\":\"Once upon a time\"}");
    EXPECT_EQ(http(port(), "POST", "/detokenize", "{\"tokens\":[99999]}").status, 400);
}

TEST_F(Serve, StreamingChatMatchesNonStreamed) {
    const std::string body = chat_body("A little dog found a ball.", "\"temperature\":0,\"max_tokens\":20");
    Reply whole = http(port(), "POST", "/v1/chat/completions", body);
    ASSERT_EQ(whole.status, 200);
    Reply st = http(port(), "POST", "/v1/chat/completions",
                    chat_body("A little dog found a ball.", "\"temperature\":0,\"max_tokens\":20,\"stream\":true,"
                                                            "\"stream_options\":{\"include_usage\":true}"));
    ASSERT_EQ(st.status, 200);
    Streamed s = join_stream(st.body, true);
    Json w(whole.body);
    EXPECT_TRUE(s.done) << "no final data: [DONE]";
    EXPECT_EQ(s.role, "assistant");
    EXPECT_EQ(s.text, str(w.j, "choices.0.message.content"));
    EXPECT_EQ(s.finish, str(w.j, "choices.0.finish_reason"));
    EXPECT_EQ(s.prompt_tokens, num(w.j, "usage.prompt_tokens"));
    EXPECT_EQ(s.completion_tokens, num(w.j, "usage.completion_tokens"));
}

TEST_F(Serve, StreamingCompletion) {
    Reply whole = http(port(), "POST", "/v1/completions", completion_body("The sun was", "\"temperature\":0,\"max_tokens\":12"));
    Reply st = http(port(), "POST", "/v1/completions", completion_body("The sun was", "\"temperature\":0,\"max_tokens\":12,\"stream\":true"));
    ASSERT_EQ(st.status, 200);
    Streamed s = join_stream(st.body, false);
    EXPECT_TRUE(s.done);
    EXPECT_EQ(s.text, completion_text(whole));
    Json w(whole.body);
    EXPECT_EQ(s.finish, str(w.j, "choices.0.finish_reason"));
    EXPECT_EQ(s.completion_tokens, -1) << "no usage chunk unless asked";
}

TEST_F(Serve, SeedReproducible) {
    const std::string body = completion_body("Once upon a time", "\"temperature\":1.0,\"top_k\":0,\"top_p\":1,\"min_p\":0,"
                                                                 "\"max_tokens\":24,\"seed\":1234");
    Reply a = http(port(), "POST", "/v1/completions", body), b = http(port(), "POST", "/v1/completions", body);
    ASSERT_EQ(a.status, 200);
    EXPECT_EQ(completion_text(a), completion_text(b));
    std::string other;
    for (int seed = 1; seed < 6 && other.empty(); seed++) {
        Reply c = http(port(), "POST", "/v1/completions",
                       completion_body("Once upon a time", "\"temperature\":1.0,\"top_k\":0,\"top_p\":1,\"min_p\":0,"
                                                           "\"max_tokens\":24,\"seed\":" + std::to_string(seed)));
        if (completion_text(c) != completion_text(a)) other = completion_text(c);
    }
    EXPECT_FALSE(other.empty()) << "other seeds should give other text";
}

TEST_F(Serve, StopStrings) {
    const std::string base = "\"temperature\":0,\"max_tokens\":40,\"logit_bias\":{\"2\":-100,\"513\":-100}";
    Reply whole = http(port(), "POST", "/v1/completions", completion_body("Once upon a time", base));
    const std::string full = completion_text(whole);
    ASSERT_GT(full.size(), 30u) << full;
    const std::string stop = full.substr(15, 4);
    const std::string want = full.substr(0, full.find(stop));
    Reply r = http(port(), "POST", "/v1/completions",
                   completion_body("Once upon a time", base + ",\"stop\":[\"zzzz\"," + quote(stop) + "]"));
    Json j(r.body);
    EXPECT_EQ(str(j.j, "choices.0.text"), want);
    EXPECT_EQ(str(j.j, "choices.0.finish_reason"), "stop");
    Reply st = http(port(), "POST", "/v1/completions",
                    completion_body("Once upon a time", base + ",\"stream\":true,\"stop\":" + quote(stop)));
    Streamed s = join_stream(st.body, false);
    EXPECT_EQ(s.text, want);
    EXPECT_EQ(s.finish, "stop");
}

// Requests 2 and 6 have prompts longer than the engine's prefill chunk (128
// rows per step while others decode), so they are read over several steps
// shared with the others' decoding.
TEST_F(Serve, ConcurrentGreedyEqualsAlone) {
    std::string starts[8] = { "Once upon a time", "The cat sat", "", "Lily went to the park",
                              "A big bird", "The sun was hot.", "", "There was a little boat" };
    for (int r = 0; r < 30; r++) starts[2] += "Tom had a red ball. ", starts[6] += "Ben and Mia ran to the big tree. ";
    auto body = [&](int i) {
        std::string b = "\"temperature\":0,\"max_tokens\":" + std::to_string(16 + 3 * i);
        return i % 2 ? chat_body(starts[i], b) : completion_body(starts[i], b);
    };
    auto path = [](int i) { return std::string(i % 2 ? "/v1/chat/completions" : "/v1/completions"); };
    std::vector<std::string> alone(8), together(8);
    for (int i = 0; i < 8; i++) {
        Reply r = http(port(), "POST", path(i), body(i));
        ASSERT_EQ(r.status, 200) << r.body;
        alone[i] = i % 2 ? chat_text(r) : completion_text(r);
    }
    std::vector<std::thread> th;
    for (int i = 0; i < 8; i++)
        th.emplace_back([&, i] {
            Reply r = http(port(), "POST", path(i), body(i));
            together[i] = r.status == 200 ? (i % 2 ? chat_text(r) : completion_text(r)) : "HTTP " + std::to_string(r.status);
        });
    for (auto &t : th) t.join();
    for (int i = 0; i < 8; i++) EXPECT_EQ(together[i], alone[i]) << "request " << i;
}

TEST_F(Serve, SharedSystemPromptComesFromThePrefixCache) {
    const std::string sys = "You are a kind storyteller. You tell short and happy stories about animals and children.";
    auto body = [&](const char *user) {
        return "{\"messages\":[{\"role\":\"system\",\"content\":" + quote(sys) + "},{\"role\":\"user\",\"content\":" +
               quote(user) + "}],\"temperature\":0,\"max_tokens\":4}";
    };
    ASSERT_EQ(http(port(), "POST", "/v1/chat/completions", body("The cat ran.")).status, 200);
    const double before = metric(port(), "nib_prompt_tokens_cached_total");
    ASSERT_EQ(http(port(), "POST", "/v1/chat/completions", body("A dog sat down.")).status, 200);
    EXPECT_GE(metric(port(), "nib_prompt_tokens_cached_total") - before, 16) << "the system prompt's full blocks are reused";
}

/* logprobs: one entry per generated token, the chosen token's log
 * probability first among its alternatives when greedy, alternatives sorted,
 * the same entries streamed as not. */
TEST_F(Serve, Logprobs) {
    Reply r = http(port(), "POST", "/v1/chat/completions",
                   chat_body("Lily saw a cat.", "\"temperature\":0,\"max_tokens\":6,\"logprobs\":true,\"top_logprobs\":3"));
    ASSERT_EQ(r.status, 200) << r.body;
    Json j(r.body);
    const cJSON *content = at(j.j, "choices.0.logprobs.content");
    ASSERT_TRUE(cJSON_IsArray(content)) << r.body;
    EXPECT_EQ(cJSON_GetArraySize(content), (int)num(j.j, "usage.completion_tokens"));
    std::string joined;
    const cJSON *e = nullptr;
    cJSON_ArrayForEach(e, content) {
        joined += str(e, "token");
        const cJSON *top = cJSON_GetObjectItem(e, "top_logprobs");
        ASSERT_EQ(cJSON_GetArraySize(top), 3);
        EXPECT_EQ(num(e, "logprob"), num(cJSON_GetArrayItem(top, 0), "logprob")) << "greedy: the chosen token is the best";
        EXPECT_LE(num(e, "logprob"), 0.0);
        for (int i = 1; i < 3; i++)
            EXPECT_GE(num(cJSON_GetArrayItem(top, i - 1), "logprob"), num(cJSON_GetArrayItem(top, i), "logprob"));
    }
    EXPECT_EQ(joined, chat_text(r));
    /* completions: the legacy shape, and streamed pieces that add up to the same */
    const std::string body = completion_body("Once upon a time", "\"temperature\":0,\"max_tokens\":5,\"logprobs\":2");
    Reply c = http(port(), "POST", "/v1/completions", body);
    ASSERT_EQ(c.status, 200) << c.body;
    Json cj(c.body);
    const cJSON *toks = at(cj.j, "choices.0.logprobs.tokens"), *lps = at(cj.j, "choices.0.logprobs.token_logprobs");
    ASSERT_EQ(cJSON_GetArraySize(toks), 5) << c.body;
    ASSERT_EQ(cJSON_GetArraySize(lps), 5);
    Reply st = http(port(), "POST", "/v1/completions", body.substr(0, body.size() - 1) + ",\"stream\":true}");
    ASSERT_EQ(st.status, 200);
    std::vector<double> streamed;
    for (const std::string &ev : sse_events(st.body)) {
        if (ev == "[DONE]") continue;
        Json ej(ev);
        const cJSON *l = at(ej.j, "choices.0.logprobs.token_logprobs");
        const cJSON *x = nullptr;
        cJSON_ArrayForEach(x, l) streamed.push_back(x->valuedouble);
    }
    ASSERT_EQ(streamed.size(), 5u) << st.body;
    for (int i = 0; i < 5; i++) EXPECT_EQ(streamed[(size_t)i], cJSON_GetArrayItem(lps, i)->valuedouble);
}

/* Embeddings: unit-length mean-pooled hidden states, one per input, the same
 * whatever they are requested with, and equal to the library's own pooling. */
TEST_F(Serve, Embeddings) {
    Reply one = http(port(), "POST", "/v1/embeddings", "{\"input\":\"Once upon a time\"}");
    ASSERT_EQ(one.status, 200) << one.body;
    Reply two = http(port(), "POST", "/v1/embeddings", "{\"input\":[\"The cat sat\",\"Once upon a time\"],\"model\":\"x\"}");
    ASSERT_EQ(two.status, 200) << two.body;
    Json a(one.body), b(two.body);
    EXPECT_EQ(str(a.j, "object"), "list");
    const cJSON *ea = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(a.j, "data"), 0), "embedding");
    const cJSON *eb = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(b.j, "data"), 1), "embedding");
    const cJSON *ec = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(b.j, "data"), 0), "embedding");
    ASSERT_EQ(cJSON_GetArraySize(ea), 128); /* the chat model's n_embd */
    ASSERT_EQ(cJSON_GetArraySize(eb), 128);
    EXPECT_EQ(num(cJSON_GetArrayItem(cJSON_GetObjectItem(b.j, "data"), 1), "index"), 1);
    double norm = 0, diff = 0, other = 0;
    for (int i = 0; i < 128; i++) {
        const double x = cJSON_GetArrayItem(ea, i)->valuedouble, y = cJSON_GetArrayItem(eb, i)->valuedouble;
        norm += x * x;
        diff = std::max(diff, std::fabs(x - y));
        other = std::max(other, std::fabs(x - cJSON_GetArrayItem(ec, i)->valuedouble));
    }
    EXPECT_NEAR(norm, 1.0, 1e-5);
    EXPECT_EQ(diff, 0.0) << "the same input gives the same vector in another request";
    EXPECT_GT(other, 1e-3) << "another input gives another vector";
    EXPECT_GT(num(b.j, "usage.prompt_tokens"), num(a.j, "usage.prompt_tokens"));
    /* token-id input: the ids of "Once upon a time" (BOS included) give the same vector */
    Reply tk = http(port(), "POST", "/tokenize", "{\"content\":\"Once upon a time\",\"add_special\":true}");
    ASSERT_EQ(tk.status, 200) << tk.body;
    Json t(tk.body);
    char *ids = cJSON_PrintUnformatted(cJSON_GetObjectItem(t.j, "tokens"));
    Reply byid = http(port(), "POST", "/v1/embeddings", std::string("{\"input\":") + ids + "}");
    free(ids);
    ASSERT_EQ(byid.status, 200) << byid.body;
    Json c(byid.body);
    const cJSON *ed = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(c.j, "data"), 0), "embedding");
    for (int i = 0; i < 128; i++) EXPECT_EQ(cJSON_GetArrayItem(ed, i)->valuedouble, cJSON_GetArrayItem(ea, i)->valuedouble);
}

TEST_F(Serve, ErrorsAreOpenAIShapedAndServerStaysHealthy) {
    struct Case {
        const char *method, *path;
        std::string body;
        long status;
        const char *param;
    };
    const std::vector<Case> cases = {
        { "POST", "/v1/chat/completions", "{\"messages\": [", 400, nullptr },
        { "POST", "/v1/chat/completions", "[1,2]", 400, nullptr },
        { "POST", "/v1/chat/completions", chat_body("hi", "\"max_tokens\":\"5\""), 400, "max_tokens" },
        { "POST", "/v1/chat/completions", chat_body("hi", "\"temperature\":\"hot\""), 400, "temperature" },
        { "POST", "/v1/chat/completions", chat_body("hi", "\"stream\":1"), 400, "stream" },
        { "POST", "/v1/chat/completions", chat_body("hi", "\"n\":2"), 400, "n" },
        { "POST", "/v1/chat/completions", chat_body("hi", "\"stop\":[1]"), 400, "stop" },
        { "POST", "/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":5}]}", 400, "messages[0].content" },
        { "POST", "/v1/chat/completions", "{\"messages\":[]}", 400, "messages" },
        { "POST", "/v1/completions", "{\"max_tokens\":3}", 400, "prompt" },
        { "POST", "/v1/completions", completion_body("hi", "\"logprobs\":9"), 400, "logprobs" },
        { "POST", "/v1/chat/completions", chat_body("hi", "\"top_logprobs\":3"), 400, "top_logprobs" },
        { "POST", "/v1/chat/completions", chat_body("hi", "\"logprobs\":1"), 400, "logprobs" },
        { "POST", "/v1/completions", std::string("{\"prompt\":\"bad \xC3\x28 utf8\"}"), 400, nullptr },
        { "POST", "/v1/completions", std::string(200000, ' '), 413, nullptr },
        { "GET", "/v1/nothing", "", 404, nullptr },
        { "GET", "/v1/chat/completions", "", 405, nullptr },
        { "POST", "/v1/embeddings", "{\"input\":5}", 400, "input" },
        { "POST", "/v1/embeddings", "{\"input\":[]}", 400, "input" },
        { "POST", "/v1/embeddings", "{\"input\":[1,2,100000]}", 400, "input" },
        { "POST", "/v1/embeddings", "{\"input\":\"hi\",\"encoding_format\":\"int8\"}", 400, "encoding_format" },
    };
    for (const Case &c : cases) {
        Reply r = http(port(), c.method, c.path, c.body);
        EXPECT_EQ(r.status, c.status) << c.method << " " << c.path << " " << c.body.substr(0, 80) << " -> " << r.body;
        Json j(r.body);
        EXPECT_TRUE(cJSON_IsString(at(j.j, "error.message"))) << r.body;
        EXPECT_TRUE(cJSON_IsString(at(j.j, "error.type"))) << r.body;
        EXPECT_TRUE(cJSON_HasObjectItem(at(j.j, "error"), "code")) << r.body;
        if (c.param) {
            EXPECT_EQ(str(j.j, "error.param"), c.param) << r.body;
        }
    }
    /* unknown fields are ignored, as OpenAI does */
    EXPECT_EQ(http(port(), "POST", "/v1/completions", completion_body("hi", "\"max_tokens\":2,\"frobnicate\":[1]")).status, 200);
    /* a prompt longer than a request's context (512 tokens): 400 naming the numbers */
    std::string lots;
    for (int i = 0; i < 700; i++) lots += " cat";
    Reply big = http(port(), "POST", "/v1/completions", completion_body(lots, "\"max_tokens\":2"));
    EXPECT_EQ(big.status, 400);
    EXPECT_NE(big.body.find("holds 512"), std::string::npos) << big.body;
    EXPECT_NE(big.body.find("context_length_exceeded"), std::string::npos) << big.body;
    expect_healthy();
    Reply ok = http(port(), "POST", "/v1/completions", completion_body("hi", "\"max_tokens\":2"));
    EXPECT_EQ(ok.status, 200);
    Reply m = http(port(), "GET", "/metrics");
    EXPECT_NE(m.body.find("nib_requests_total{endpoint=\"/v1/completions\",status=\"413\"} 1"), std::string::npos) << m.body;
}

TEST_F(Serve, ClientLeavingMidStreamFreesItsSequence) {
    const std::string body = completion_body("Once upon a time", "\"temperature\":0,\"max_tokens\":400,\"stream\":true,"
                                                                 "\"logit_bias\":{\"2\":-100,\"513\":-100}");
    Reply r = http(port(), "POST", "/v1/completions", body, "", 600); /* hangs up after ~2 chunks */
    EXPECT_EQ(r.status, 200);
    double active = -1;
    for (int i = 0; i < 100; i++) {
        active = metric(port(), "nib_active_sequences");
        if (active == 0) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_EQ(active, 0);
    EXPECT_EQ(metric(port(), "nib_kv_blocks_used"), 0);
    expect_healthy();
}

TEST(ServeAuth, ApiKeyRequired) {
    curl_global_init(CURL_GLOBAL_ALL);
    Server s({ "--api-key", "sekrit", "--alias", "tiny" });
    ASSERT_GT(s.port, 0);
    EXPECT_EQ(http(s.port, "GET", "/health").status, 200);
    Reply none = http(s.port, "GET", "/v1/models");
    EXPECT_EQ(none.status, 401);
    Json j(none.body);
    EXPECT_EQ(str(j.j, "error.code"), "invalid_api_key");
    EXPECT_EQ(http(s.port, "GET", "/v1/models", "", "wrong").status, 401);
    EXPECT_EQ(http(s.port, "GET", "/v1/models", "", "sekrit-and-more").status, 401);
    EXPECT_EQ(http(s.port, "POST", "/v1/completions", completion_body("hi", "\"max_tokens\":2")).status, 401);
    Reply ok = http(s.port, "GET", "/v1/models", "", "sekrit");
    EXPECT_EQ(ok.status, 200);
    Json m(ok.body);
    EXPECT_EQ(str(m.j, "data.0.id"), "tiny");
    EXPECT_EQ(http(s.port, "POST", "/v1/completions", completion_body("hi", "\"max_tokens\":2"), "sekrit").status, 200);
    EXPECT_EQ(s.stop(), 0);
}

TEST(ServeTimeout, LongRequestGets504AndTheServerGoesOn) {
    curl_global_init(CURL_GLOBAL_ALL);
    /* 1 ms: any request that generates hundreds of tokens outlives it, however fast the machine */
    Server s({ "--parallel", "1", "--timeout", "0.001" });
    ASSERT_GT(s.port, 0);
    Reply r = http(s.port, "POST", "/v1/completions",
                   completion_body("Once upon a time", "\"max_tokens\":100000,\"logit_bias\":{\"2\":-100,\"513\":-100}"));
    EXPECT_EQ(r.status, 504) << r.body.substr(0, 300);
    Json j(r.body);
    EXPECT_EQ(str(j.j, "error.type"), "timeout_error") << r.body.substr(0, 300);
    EXPECT_EQ(http(s.port, "GET", "/health", "").status, 200);
    EXPECT_EQ(metric(s.port, "nib_active_sequences"), 0);
    EXPECT_EQ(s.stop(), 0);
}

TEST(ServeShutdown, SigtermDuringAStreamExitsZero) {
    curl_global_init(CURL_GLOBAL_ALL);
    /* one slot and eight long streams: whenever SIGTERM comes, most are still running or queued */
    Server s({ "--parallel", "1" });
    ASSERT_GT(s.port, 0);
    std::vector<Reply> streamed(8);
    std::vector<std::thread> clients;
    for (int i = 0; i < 8; i++)
        clients.emplace_back([&, i] {
            streamed[(size_t)i] = http(s.port, "POST", "/v1/completions",
                                       completion_body("Once upon a time", "\"max_tokens\":100000,\"stream\":true,"
                                                                           "\"logit_bias\":{\"2\":-100,\"513\":-100}"));
        });
    for (int i = 0; i < 100 && metric(s.port, "nib_active_sequences") != 1; i++)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    EXPECT_EQ(s.stop(), 0);
    for (auto &c : clients) c.join();
    int cut = 0;
    for (const Reply &r : streamed) {
        if (r.status != 200) continue; /* refused outright once the server stopped listening */
        cut += r.body.find("shutting down") != std::string::npos;
        EXPECT_NE(r.body.find("data: [DONE]"), std::string::npos) << "a stream ended without [DONE]: "
                                                                   << r.body.substr(r.body.size() > 300 ? r.body.size() - 300 : 0);
    }
    EXPECT_GE(cut, 1) << "no stream was told the server is shutting down";
}

} // namespace

/* Speculative decoding in the server (-md, --lookup): greedy replies equal
 * the plain server's, alone, streamed and concurrent; logprobs requests (the
 * plain path) work beside them; sampling works; /metrics reports the drafts. */
TEST(ServeSpeculative, GreedyRepliesEqualThePlainServers) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no shared models";
    curl_global_init(CURL_GLOBAL_ALL);
    const std::string draft = nib_test_shared_dir() + "/models/stories260K/stories260K-q8_0.gguf";
    Server plain({ "--parallel", "4" }), md({ "--parallel", "4", "-md", draft }), lookup({ "--parallel", "2", "--lookup", "2" });
    ASSERT_GT(plain.port, 0);
    ASSERT_GT(md.port, 0) << "nib serve -md did not start";
    ASSERT_GT(lookup.port, 0) << "nib serve --lookup did not start";
    const char *starts[4] = { "Once upon a time", "Tom had a red ball.", "Lily went to the park", "The sun was hot." };
    auto body = [&](int i, bool stream) {
        std::string b = "\"temperature\":0,\"max_tokens\":" + std::to_string(24 + 5 * i) + (stream ? ",\"stream\":true" : "");
        return i % 2 ? chat_body(starts[i], b) : completion_body(starts[i], b);
    };
    auto path = [](int i) { return std::string(i % 2 ? "/v1/chat/completions" : "/v1/completions"); };
    auto text = [](int i, const Reply &r) { return i % 2 ? chat_text(r) : completion_text(r); };
    std::vector<std::string> want(4);
    for (int i = 0; i < 4; i++) {
        Reply r = http(plain.port, "POST", path(i), body(i, false));
        ASSERT_EQ(r.status, 200) << r.body;
        want[i] = text(i, r);
        for (int port : { md.port, lookup.port }) {
            Reply s = http(port, "POST", path(i), body(i, false));
            ASSERT_EQ(s.status, 200) << s.body;
            EXPECT_EQ(text(i, s), want[i]) << "request " << i << " on port " << port;
            Reply st = http(port, "POST", path(i), body(i, true));
            ASSERT_EQ(st.status, 200) << st.body;
            EXPECT_EQ(join_stream(st.body, i % 2).text, want[i]) << "streamed request " << i;
        }
    }
    std::vector<std::string> together(4);
    std::vector<std::thread> th;
    for (int i = 0; i < 4; i++)
        th.emplace_back([&, i] {
            Reply r = http(md.port, "POST", path(i), body(i, false));
            together[i] = r.status == 200 ? text(i, r) : "HTTP " + std::to_string(r.status);
        });
    for (auto &t : th) t.join();
    for (int i = 0; i < 4; i++) EXPECT_EQ(together[i], want[i]) << "concurrent request " << i;

    Reply lp = http(md.port, "POST", "/v1/chat/completions",
                    chat_body("Lily saw a cat.", "\"temperature\":0,\"max_tokens\":6,\"logprobs\":true,\"top_logprobs\":2"));
    ASSERT_EQ(lp.status, 200) << lp.body;
    Json lj(lp.body);
    EXPECT_EQ(cJSON_GetArraySize(at(lj.j, "choices.0.logprobs.content")), num(lj.j, "usage.completion_tokens"));
    Reply smp = http(md.port, "POST", "/v1/completions",
                     completion_body("Once upon a time", "\"temperature\":0.9,\"seed\":7,\"max_tokens\":20"));
    ASSERT_EQ(smp.status, 200) << smp.body;
    Reply smp2 = http(md.port, "POST", "/v1/completions",
                      completion_body("Once upon a time", "\"temperature\":0.9,\"seed\":7,\"max_tokens\":20"));
    EXPECT_EQ(completion_text(smp2), completion_text(smp)) << "same seed, same speculative sample";

    for (int port : { md.port, lookup.port }) {
        const double drafted = metric(port, "nib_spec_drafted_tokens_total");
        const double accepted = metric(port, "nib_spec_accepted_tokens_total");
        EXPECT_GT(metric(port, "nib_spec_target_passes_total"), 0) << port;
        EXPECT_GE(drafted, accepted);
        EXPECT_GE(accepted, 0);
        EXPECT_GE(metric(port, "nib_spec_tokens_per_pass"), 1.0);
    }
    EXPECT_GT(metric(md.port, "nib_spec_drafted_tokens_total"), 0);
    EXPECT_EQ(metric(plain.port, "nib_spec_drafted_tokens_total"), -1) << "no speculation metrics without it";
    EXPECT_EQ(md.stop(), 0);
    EXPECT_EQ(lookup.stop(), 0);
}

TEST(ServeSpeculative, IncompatibleDraftIsRefused) {
    if (!nib_test_have_shared()) GTEST_SKIP() << "no shared models";
    CliRun r = run_nib("serve --port 0 -md '" + nib_test_shared_dir() + "/models/synth/llama-q8_0.gguf'");
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.err.find("draft vocabulary"), std::string::npos) << r.err;
    r = run_nib("serve --port 0 -md x.gguf --lookup 3");
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.err.find("not both"), std::string::npos) << r.err;
}
