-- Tokens of an exchange's two texts, counted once when the answer is stored: every later prompt that
-- remembers the exchange (memory, few-shot, recent turns) used to tokenise them again, about a tenth
-- of a reply's CPU. Rows stored before stay NULL and are counted when used.
ALTER TABLE "Exchange" ADD COLUMN "textTokens" INTEGER;
