// `nib chat` end to end: scripted use (one message per stdin line; --json),
// KV reuse across turns (turn two processes only its new tokens), /save and
// /load, context overflow (stop with the numbers, or trim and say so), bad
// arguments; and the interactive terminal in tmux: a streamed reply,
// Ctrl-C stopping a reply without ending the program, /set, /reset, Ctrl-D.
#include <gtest/gtest.h>

#include "cli_runner.h"
#include "test_util.h"

#include <cstdio>
#include <cstdlib>
#include <regex>
#include <string>
#include <thread>
#include <unistd.h>

namespace {

const std::string chat_model = std::string(NIB_SOURCE_DIR) + "/models/tiny-chat-q8_0.gguf";

std::string write_temp(const std::string &name, const std::string &text) {
    const std::string path = nib_test_temp_path(name);
    FILE *f = fopen(path.c_str(), "w");
    EXPECT_NE(f, nullptr);
    if (f) {
        fputs(text.c_str(), f);
        fclose(f);
    }
    return path;
}

struct Turn {
    int reused = -1, processed = -1, reply = -1;
    std::string stop;
};

std::vector<Turn> turns(const std::string &err) {
    std::vector<Turn> v;
    std::regex re("turn [0-9]+: ([0-9]+) cached tokens reused, ([0-9]+) new processed, reply ([0-9]+) tokens \\([0-9.]+ t/s\\), stop: ([a-z]+)");
    for (std::sregex_iterator it(err.begin(), err.end(), re), end; it != end; ++it) {
        Turn t;
        t.reused = std::stoi((*it)[1]);
        t.processed = std::stoi((*it)[2]);
        t.reply = std::stoi((*it)[3]);
        t.stop = (*it)[4];
        v.push_back(t);
    }
    return v;
}

TEST(ChatCli, ScriptedTurnsReuseTheCache) {
    const std::string in = write_temp("chat_in.txt", "Once upon a time there was a little girl named Lily.\n"
                                                     "The dog ran to the park.\n\n"
                                                     "Tom had a red ball.\n");
    CliRun r = run_nib("chat -m '" + chat_model + "' --temp 0 -t 2 < '" + in + "'");
    ASSERT_EQ(r.status, 0) << r.err;
    std::vector<Turn> t = turns(r.err);
    ASSERT_EQ(t.size(), 3u) << r.err;
    EXPECT_EQ(t[0].reused, 0);
    for (const Turn &x : t) {
        EXPECT_EQ(x.stop, "eog") << r.err; /* the chat model ends its turns with <|im_end|> */
        EXPECT_GT(x.reply, 0);
    }
    /* turn two keeps turn one's prompt and reply in the cache and processes
     * only the new tokens: the reply's end marker and the new message */
    EXPECT_GE(t[1].reused, t[0].processed + t[0].reply - 1) << r.err;
    EXPECT_LT(t[1].processed, 40) << r.err;
    EXPECT_GE(t[2].reused, t[1].reused + t[1].processed + t[1].reply - 1) << r.err;
    /* three replies on stdout, each ended by a newline */
    int lines = 0;
    for (char ch : r.out) lines += ch == '\n';
    EXPECT_GE(lines, 3) << r.out;
    EXPECT_EQ(r.out.back(), '\n');
    std::remove(in.c_str());
}

/* Speculative decoding in chat (n-gram lookup, or the story model drafting
 * for the chat model: their vocabularies agree on every shared id): the same
 * greedy replies, the same cache reuse, /set included. */
TEST(ChatCli, SpeculativeRepliesAreTheSame) {
    const std::string in = write_temp("chat_spec.txt", "Once upon a time there was a little girl named Lily.\n"
                                                       "The dog ran to the park.\n/set temp 0\nTom had a red ball.\n");
    CliRun plain = run_nib("chat -m '" + chat_model + "' --temp 0 -t 2 < '" + in + "'");
    ASSERT_EQ(plain.status, 0) << plain.err;
    const std::string draft = std::string(NIB_SOURCE_DIR) + "/models/stories260K-q8_0.gguf";
    for (const std::string &how : { std::string("--lookup 2"), "-md '" + draft + "'" }) {
        CliRun r = run_nib("chat -m '" + chat_model + "' --temp 0 -t 2 " + how + " < '" + in + "'");
        ASSERT_EQ(r.status, 0) << r.err;
        EXPECT_EQ(r.out, plain.out) << how;
        std::vector<Turn> a = turns(plain.err), b = turns(r.err);
        ASSERT_EQ(a.size(), b.size()) << r.err;
        /* The same prompts; speculation may already hold a reply's last tokens
         * (a verified batch decodes the end-of-turn token, plain decoding stops
         * before it), and where a turn ends inside a batch depends on the draft
         * length, which adapts to measured timings: so at least the plain
         * run's reuse, never less, and the same total. */
        for (size_t i = 0; i < a.size(); i++) {
            EXPECT_GE(b[i].reused, a[i].reused) << how << " turn " << i;
            EXPECT_EQ(b[i].reused + b[i].processed, a[i].reused + a[i].processed) << how << " turn " << i;
        }
    }
    std::remove(in.c_str());
}

TEST(ChatCli, JsonConversationAndSaveLoad) {
    const std::string conv = write_temp("chat_conv.json", "{\"system\": \"You tell stories.\", \"messages\": ["
                                                          "{\"role\": \"user\", \"content\": \"Lily saw a cat.\"},"
                                                          "{\"role\": \"assistant\", \"content\": \"The cat was big.\"},"
                                                          "{\"role\": \"user\", \"content\": \"Tom had a ball.\"}]}");
    CliRun r = run_nib("chat -m '" + chat_model + "' --json --temp 0 < '" + conv + "'");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("\"reply\":"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("\"stop\":\"eog\""), std::string::npos) << r.out;
    /* the same conversation /load-ed and continued gives the same reply */
    const std::string saved = nib_test_temp_path("chat_saved.json");
    const std::string in = write_temp("chat_in2.txt", "/load " + conv + "\n/save " + saved + "\n/stats\n");
    r = run_nib("chat -m '" + chat_model + "' --temp 0 < '" + in + "'");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find("loaded 3 messages"), std::string::npos) << r.err;
    std::vector<uint8_t> a = nib_test_read_file(saved);
    std::string s(a.begin(), a.end());
    EXPECT_NE(s.find("\"system\":\t\"You tell stories.\""), std::string::npos) << s;
    EXPECT_NE(s.find("Tom had a ball."), std::string::npos) << s;
    /* malformed input: a clear error, no crash */
    const std::string bad = write_temp("chat_bad.json", "{\"messages\": [{\"role\": 3}]}");
    r = run_nib("chat -m '" + chat_model + "' --json < '" + bad + "'");
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("needs string \"role\" and \"content\""), std::string::npos) << r.err;
    r = run_nib("chat -m '" + chat_model + "' --chat-template nosuch < /dev/null");
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.err.find("neither a built-in template"), std::string::npos) << r.err;
    r = run_nib("chat -m '" + chat_model + "' -p hello < /dev/null");
    EXPECT_EQ(r.status, 1);
    for (const std::string &p : { conv, saved, in, bad }) std::remove(p.c_str());
}

TEST(ChatCli, SystemPromptAndChatMLFallback) {
    const std::string conv = write_temp("chat_sys.json", "[{\"role\": \"user\", \"content\": \"Lily saw a cat.\"}]");
    CliRun plain = run_nib("chat -m '" + chat_model + "' --json --temp 0 < '" + conv + "'");
    CliRun sys = run_nib("chat -m '" + chat_model + "' -sys 'You tell short stories about cats.' --json --temp 0 < '" + conv + "'");
    ASSERT_EQ(plain.status, 0) << plain.err;
    ASSERT_EQ(sys.status, 0) << sys.err;
    std::smatch a, b;
    std::regex re("\"prompt_tokens\":([0-9]+)");
    ASSERT_TRUE(std::regex_search(plain.out, a, re)) << plain.out;
    ASSERT_TRUE(std::regex_search(sys.out, b, re)) << sys.out;
    EXPECT_GT(std::stoi(b[1]), std::stoi(a[1]) + 5); /* the system turn is in the prompt */
    /* the story model has no chat template: ChatML, said once */
    const std::string in = write_temp("chat_two.txt", "Hello\nAgain\n");
    CliRun r = run_nib("chat -m '" + std::string(NIB_SOURCE_DIR) + "/models/stories260K-q8_0.gguf' -n 8 --temp 0 < '" + in + "'");
    ASSERT_EQ(r.status, 0) << r.err;
    const std::string note = "has no chat template (tokenizer.chat_template); using ChatML";
    const size_t at = r.err.find(note);
    EXPECT_NE(at, std::string::npos) << r.err;
    EXPECT_EQ(r.err.find(note, at + 1), std::string::npos) << "said more than once";
    std::remove(conv.c_str());
    std::remove(in.c_str());
}

TEST(ChatCli, ContextOverflowIsNeverSilent) {
    std::string many;
    for (int i = 0; i < 8; i++) many += "Once upon a time there was a little girl named Lily who loved her dog.\n";
    const std::string in = write_temp("chat_overflow.txt", many);
    CliRun r = run_nib("chat -m '" + chat_model + "' -c 128 -n 24 --temp 0 < '" + in + "'");
    EXPECT_EQ(r.status, 1) << r.err; /* some turns could not run */
    EXPECT_NE(r.err.find("no longer fits the context: this turn needs"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("/reset"), std::string::npos);
    r = run_nib("chat -m '" + chat_model + "' -c 128 -n 24 --temp 0 --context-overflow trim < '" + in + "'");
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find("dropped the oldest"), std::string::npos) << r.err;
    EXPECT_EQ(turns(r.err).size(), 8u) << r.err;
    std::remove(in.c_str());
}

/* ------------------------------------------------------------ terminal */

bool have_tmux() { return std::system("command -v tmux >/dev/null 2>&1") == 0; }

std::string tmux_capture(const std::string &session) {
    std::string cmd = "tmux capture-pane -p -S -200 -t " + session;
    FILE *p = popen(cmd.c_str(), "r");
    std::string out;
    char buf[4096];
    size_t n;
    while (p && (n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    if (p) pclose(p);
    return out;
}

/* Waits until the pane shows `what` (or ~20 s pass). */
bool wait_for(const std::string &session, const std::string &what, std::string *screen) {
    for (int i = 0; i < 200; i++) {
        *screen = tmux_capture(session);
        if (screen->find(what) != std::string::npos) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
}

TEST(ChatCli, TerminalSession) {
    ASSERT_TRUE(have_tmux()) << "tmux is needed for the terminal test (scripts/install-deps.sh installs it)";
    /* a model slow enough to interrupt: random weights of 1024 x 12 layers */
    const std::string slow = nib_test_temp_path("chat_slow.gguf");
    CliRun s = run_nib("synth -o '" + slow + "' --n-embd 1024 --n-layer 12 --n-head 8 --n-head-kv 8 --n-ff 2816 "
                       "--type Q4_0 --vocab-from '" + chat_model + "'");
    ASSERT_EQ(s.status, 0) << s.err;
    const std::string session = "nibchat" + std::to_string(getpid());
    const std::string hist = nib_test_temp_path("chat_state");
    std::string cmd = "tmux new-session -d -x 160 -y 50 -s " + session + " \"XDG_STATE_HOME='" + hist + "' '" + NIB_CLI_PATH +
                      "' chat -m '" + slow + "' --chat-template chatml -c 4096 -t 2 --temp 0; echo NIB_EXITED=\\$?; sleep 30\"";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    std::string screen;
    EXPECT_TRUE(wait_for(session, "/help for commands", &screen)) << screen;
    std::system(("tmux send-keys -t " + session + " 'Tell me a story' Enter").c_str());
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    std::system(("tmux send-keys -t " + session + " C-c").c_str());
    EXPECT_TRUE(wait_for(session, "reply stopped (Ctrl-C)", &screen)) << screen;
    std::system(("tmux send-keys -t " + session + " '/set temp 0.5' Enter").c_str());
    EXPECT_TRUE(wait_for(session, "temp = 0.5", &screen)) << screen;
    std::system(("tmux send-keys -t " + session + " '/stats' Enter").c_str());
    EXPECT_TRUE(wait_for(session, "tokens in the context of 4096", &screen)) << screen;
    std::system(("tmux send-keys -t " + session + " '/reset' Enter").c_str());
    EXPECT_TRUE(wait_for(session, "conversation cleared", &screen)) << screen;
    /* a continuation line and a paste: one message each; then interrupted and saved */
    std::system(("tmux send-keys -t " + session + " 'first part \\' Enter 'second part' Enter").c_str());
    std::this_thread::sleep_for(std::chrono::milliseconds(800));
    std::system(("tmux send-keys -t " + session + " C-c").c_str());
    EXPECT_TRUE(wait_for(session, "reply stopped", &screen)) << screen;
    const std::string saved = nib_test_temp_path("chat_tmux.json");
    std::system(("tmux send-keys -t " + session + " '/save " + saved + "' Enter").c_str());
    EXPECT_TRUE(wait_for(session, "saved 2 messages", &screen)) << screen;
    std::vector<uint8_t> js = nib_test_read_file(saved);
    EXPECT_NE(std::string(js.begin(), js.end()).find("first part \\nsecond part"), std::string::npos)
        << std::string(js.begin(), js.end());
    std::remove(saved.c_str());
    std::system(("tmux send-keys -t " + session + " C-d").c_str());
    EXPECT_TRUE(wait_for(session, "NIB_EXITED=0", &screen)) << screen;
    std::system(("tmux kill-session -t " + session + " 2>/dev/null").c_str());
    std::system(("rm -rf '" + hist + "'").c_str());
    std::remove(slow.c_str());
}

} // namespace
