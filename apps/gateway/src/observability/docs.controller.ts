import { Controller, Get, Injectable } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { OpenAPIObject } from '@nestjs/swagger';
import { Public } from '../auth/public.decorator';

/** Holds the document built once at start-up (it needs the whole app to be assembled). */
@Injectable()
export class OpenApiDocument {
  document: OpenAPIObject | null = null;
}

@Public()
@ApiExcludeController()
@Controller('docs')
export class DocsController {
  constructor(private readonly holder: OpenApiDocument) {}

  /** The OpenAPI 3 document (JSON): import it into Swagger UI, Postman or a client generator. */
  @Get()
  document(): OpenAPIObject | null {
    return this.holder.document;
  }
}
