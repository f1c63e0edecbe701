"""Weizenbaum's DOCTOR script (1966), the data that ELIZA (server/eliza.py) runs.

Transcribed from the published script as reimplemented many times since; it is kept
apart from the engine, as Weizenbaum kept his scripts apart from ELIZA itself.
"""

# The script: "key WORD RANK", then "  pattern" lines, each followed by its replies
# ("    reply | reply", on one or more lines).
# In a pattern, * captures any words and @set one word of a synonym set; (n) in a reply
# is the n-th capture, and "=key" jumps to that key's patterns.
SCRIPT = """
key sorry 0
  *
    Please don't apologise. | Apologies are not necessary.
    I've told you that apologies are not required.
key remember 5
  * i remember *
    Do you often think of (2) ? | Does thinking of (2) bring anything else to mind ?
    What else do you recollect ? | Why do you recollect (2) just now ?
    What in the present situation reminds you of (2) ?
  * do you remember *
    Did you think I would forget (2) ? | Why do you think I should recall (2) now ?
    What about (2) ? | You mentioned (2) ?
key if 3
  * if *
    Do you think its likely that (2) ? | Do you wish that (2) ? | What do you know about (2) ?
    Really, if (2) ?
key dreamed 4
  * i dreamed *
    Really, (2) ? | Have you ever fantasized (2) while you were awake ?
    Have you ever dreamed (2) before ?
key dream 3
  *
    What does that dream suggest to you ? | Do you dream often ?
    What persons appear in your dreams ?
    Do you believe that dreams have something to do with your problem ?
key perhaps 0
  *
    You don't seem quite certain. | Why the uncertain tone ? | Can't you be more positive ?
    You aren't sure ?
key name 15
  *
    I am not interested in names.
    I've told you before, I don't care about names -- please continue.
key computer 50
  *
    Do computers worry you ? | Why do you mention computers ?
    What do you think machines have to do with your problem ?
    Don't you think computers can help people ? | What about machines worries you ?
key hello 0
  *
    How do you do. Please state your problem. | Hi. What seems to be your trouble ?
key am 0
  * am i *
    Do you believe you are (2) ? | Would you want to be (2) ?
    What would it mean if you were (2) ?
  *
    Why do you say 'am' ? | I don't understand that.
key are 0
  * are you *
    Why are you interested in whether I am (2) or not ? | Would you prefer if I weren't (2) ?
    Perhaps I am (2) in your fantasies. | Do you sometimes think I am (2) ?
  * are *
    Did you think they might not be (2) ? | Would you like it if they were not (2) ?
    What if they were not (2) ? | Possibly they are (2).
key your 0
  * your *
    Why are you concerned over my (2) ? | What about your own (2) ?
    Are you worried about someone else's (2) ? | Really, my (2) ?
key was 2
  * was i *
    What if you were (2) ? | Do you think you were (2) ? | Were you (2) ?
  * i was *
    Were you really ? | Why do you tell me you were (2) now ?
    Perhaps I already know you were (2).
  * was you *
    Would you like to believe I was (2) ? | What suggests that I was (2) ? | Perhaps I was (2).
key i 0
  * i @desire *
    What would it mean to you if you got (3) ? | Why do you want (3) ?
    Suppose you got (3) soon ? | What if you never got (3) ?
  * i am @sad *
    I am sorry to hear that you are (2).
    Do you think that coming here will help you not to be (2) ?
    I'm sure it's not pleasant to be (2). | Can you explain what made you (2) ?
  * i am @happy *
    How have I helped you to be (2) ? | Has your treatment made you (2) ?
    What makes you (2) just now ?
  * i @belief i *
    Do you really think so ? | But you are not sure you (3). | Do you really doubt you (3) ?
  * i am *
    Is it because you are (2) that you came to me ? | How long have you been (2) ?
    Do you believe it is normal to be (2) ? | Do you enjoy being (2) ?
  * i @cannot *
    How do you know that you can't (3) ? | Have you tried ? | Perhaps you could (3) now.
  * i don't *
    Don't you really (2) ? | Why don't you (2) ? | Does that trouble you ?
  * i feel *
    Tell me more about such feelings. | Do you often feel (2) ? | Do you enjoy feeling (2) ?
  * i * you *
    Perhaps in your fantasies we (2) each other. | Do you wish to (2) me ?
    You seem to need to (2) me.
  *
    You say (1) ? | Can you elaborate on that ? | Do you say (1) for some special reason ?
    That's quite interesting.
key you 0
  * you remind me of *
    =alike
  * you are *
    What makes you think I am (2) ? | Does it please you to believe I am (2) ?
    Perhaps you would like to be (2).
  * you * me *
    Why do you think I (2) you ? | You like to think I (2) you -- don't you ?
    Really, I (2) you ?
  *
    We were discussing you -- not me. | You're not really talking about me -- are you ?
    What are your feelings now ?
key yes 0
  *
    You seem to be quite positive. | You are sure. | I see. | I understand.
key no 0
  *
    Are you saying no just to be negative ? | You are being a bit negative. | Why not ?
    Why 'no' ?
key my 2
  * my @family *
    Tell me more about your family. | Who else in your family (3) ? | Your (2) ?
    What else comes to mind when you think of your (2) ?
  * my *
    Your (2) ? | Why do you say your (2) ?
    Does that suggest anything else which belongs to you ?
    Is it important to you that your (2) ?
key can 0
  * can you *
    You believe I can (2) don't you ? | You want me to be able to (2).
    Perhaps you would like to be able to (2) yourself.
  * can i *
    Whether or not you can (2) depends on you more than on me. | Do you want to be able to (2) ?
    Perhaps you don't want to (2).
key what 0
  *
    Why do you ask ? | Does that question interest you ? | What is it you really want to know ?
    Are such questions much on your mind ? | What answer would please you most ?
    What do you think ?
key because 0
  *
    Is that the real reason ? | Don't any other reasons come to mind ?
    Does that reason seem to explain anything else ? | What other reasons might there be ?
key why 0
  * why don't you *
    Do you believe I don't (2) ? | Perhaps I will (2) in good time. | Should you (2) yourself ?
  * why can't i *
    Do you think you should be able to (2) ? | Why can't you (2) ?
  *
    =what
key everyone 2
  * @everyone *
    Really, (2) ? | Surely not (2). | Can you think of anyone in particular ?
    Who, for example ?
key always 1
  *
    Can you think of a specific example ? | When ? | What incident are you thinking of ?
    Really, always ?
key alike 10
  *
    In what way ? | What resemblance do you see ? | What does that similarity suggest to you ?
    What other connections do you see ?
key like 10
  * @be like *
    =alike
"""
NONE = ["I'm not sure I understand you fully.", "Please go on.",
        "What does that suggest to you ?", "Do you feel strongly about discussing such things ?"]
MEMORY = ["Lets discuss further why your (2).", "Earlier you said your (2).",
          "But your (2).", "Does that have anything to do with the fact that your (2) ?"]
GREETING = "How do you do. Please tell me your problem."
SYNONYMS = {
    "be": "am is are was", "belief": "feel think believe wish", "cannot": "can't",
    "desire": "want need", "everyone": "everybody nobody noone", "happy": "elated glad better",
    "family": "mother mom father dad sister brother wife husband children child",
    "sad": "unhappy depressed sick",
}
PRE = {"dont": "don't", "cant": "can't", "wont": "won't", "recollect": "remember",
       "dreamt": "dreamed", "dreams": "dream", "maybe": "perhaps", "how": "what",
       "when": "what", "certainly": "yes", "machine": "computer", "computers": "computer",
       "were": "was", "you're": "you are", "i'm": "i am", "same": "alike", "hi": "hello"}
POST = {"am": "are", "your": "my", "me": "you", "myself": "yourself", "yourself": "myself",
        "i": "you", "you": "I", "my": "your", "are": "am", "i'm": "you are", "mine": "yours"}
