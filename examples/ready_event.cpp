// Python:
//     ready = threading.Event()
//     def server():
//         bind_and_listen()
//         ready.set()                       # "I am listening"
//         serve()
//     threading.Thread(target=server).start()
//     if not ready.wait(timeout=5):         # the client waits for the server, never sleeps
//         raise TimeoutError
//     connect(port)
//
// A server thread announces it is ready with an event; the client waits for it (with a time-out)
// before it connects. Whatever the server wrote before set() is visible to a thread that returns
// from wait(), so the port needs no further synchronization. The "connection" is a request and a
// reply, handed over by two more events. The program checks the client saw the port and got the
// right reply, and that waiting on an event nobody sets times out (wait_for returns false).
#include <atomkit/event.hpp>

#include <chrono>
#include <cstdio>
#include <functional>
#include <thread>

namespace {

using namespace std::chrono_literals;

struct channel {
  atomkit::event ready;     // the server is listening: port is valid
  atomkit::event request;   // the client has written question
  atomkit::event reply;     // the server has written answer
  int port = 0;             // written before ready.set()
  int question = 0;         // written before request.set()
  int answer = 0;           // written before reply.set()
};

void server(channel& ch) {
  ch.port = 8080;  // "bind and listen"
  ch.ready.set();
  ch.request.wait();
  ch.answer = ch.question * 2;
  ch.reply.set();
}

}  // namespace

int main() {
  channel ch;
  std::thread srv(server, std::ref(ch));

  const bool ready = ch.ready.wait_for(5s);  // Python: ready.wait(timeout=5)
  const int port = ready ? ch.port : -1;     // valid only once ready is set
  std::printf("client: server %s on port %d\n", ready ? "ready" : "NOT ready", port);
  ch.question = 21;
  ch.request.set();
  const bool replied = ch.reply.wait_for(5s);
  srv.join();
  std::printf("client: asked %d, got %d\n", ch.question, ch.answer);
  if (!ready || !replied || port != 8080 || ch.answer != 42) {
    std::fprintf(stderr, "FAIL: expected a ready server on port 8080 and the answer 42\n");
    return 1;
  }

  // Python's event.wait(timeout) returns False when nobody sets the event in time.
  const atomkit::event never_set;
  const bool woke = never_set.wait_for(10ms);
  std::printf("waiting on an event nobody sets: %s\n", woke ? "set?!" : "timed out");
  if (woke || never_set.is_set()) {
    std::fprintf(stderr, "FAIL: an event nobody sets must time out\n");
    return 1;
  }
  return 0;
}
